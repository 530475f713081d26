"""The `hfinfer` command: generated from the operations table, and working end to end."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from hfinfer._cli import build_parser, main
from hfinfer._cli._options import cli_args, descriptions, option_name
from hfinfer._generated import operations
from hfinfer.batch import operations_by_method

from .conftest import read_jsonl, write_jsonl
from .server import BatchServer, expected_embedding, expected_label


def _subcommands(
    parser: argparse.ArgumentParser, command: str
) -> dict[str, argparse.ArgumentParser]:
    top = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = top.choices[command]
    methods = next(a for a in sub._actions if isinstance(a, argparse._SubParsersAction))
    return dict(methods.choices)


def test_every_task_method_has_both_subcommands_with_its_arguments() -> None:
    table = [getattr(operations, name) for name in operations.__all__]
    assert {op.method for op in table} == set(operations_by_method())
    parser = build_parser()
    for command in ("batch", "run"):
        subs = _subcommands(parser, command)
        assert {op.method for op in table} <= set(subs)
        for op in table:
            sub = subs[op.method]
            assert subs[op.task] is sub  # the task id is an alias
            _, help_for = descriptions(op)
            by_dest = {a.dest: a for a in sub._actions}
            for arg in cli_args(op):
                if command == "run" and arg.check.required:
                    action = by_dest[arg.name]
                    assert not action.option_strings
                else:
                    action = by_dest[f"arg_{arg.name}"]
                    assert action.option_strings == [option_name(arg)] or (
                        option_name(arg) in action.option_strings  # --x / --no-x
                    )
                    if arg.check.enum is not None and set(arg.check.types) <= {"str"}:
                        assert action.choices == [str(v) for v in arg.check.enum]
                assert action.help and help_for[arg.name] in action.help
            if op.stream is not None:
                assert f"arg_{op.stream.when}" not in by_dest and op.stream.when not in by_dest


def test_options_are_typed_from_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    ns = parser.parse_args(
        ["batch", "zero_shot_classification", "i.jsonl", "o.jsonl", "--labels", "a", "b",
         "--multi-label"]
    )  # fmt: skip
    assert ns.arg_labels == ["a", "b"] and ns.arg_multi_label is True
    ns = parser.parse_args(["batch", "text_classification", "i.jsonl", "o.jsonl", "--top-k", "3"])
    assert ns.arg_top_k == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["batch", "text_classification", "i", "o", "--top-k", "three"])
    assert "top-k" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parser.parse_args(["batch", "text_classification", "i", "o", "--function-to-apply", "x"])


def test_run_prints_one_result_as_json(
    server: BatchServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "feature_extraction", "--model", f"{server.url}/embed", "hello"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == expected_embedding("hello")
    code = main(["run", "text-classification", "--model", f"{server.url}/classify", "status=400"])
    assert code == 1
    assert json.loads(capsys.readouterr().err)["error"]["type"] == "BadRequestError"


def test_run_saves_an_image(
    server: BatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cat.png"
    code = main(
        ["run", "text_to_image", "--model", f"{server.url}/image", "--save", str(target), "a cat"]
    )
    assert code == 0 and target.read_bytes().startswith(b"\x89PNG")
    assert json.loads(capsys.readouterr().out)["media_type"] == "image/png"


def test_batch_command_end_to_end(
    server: BatchServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = [f"sample {i}" * (i % 3) + "z" for i in range(25)]
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    out = tmp_path / "out.jsonl"
    argv = ["batch", "text_classification", str(src), str(out), "--model",
            f"{server.url}/classify", "--concurrency", "4", "--progress", "lines"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "done 25 rows" in err and "25 ok, 0 failed" in err and "p50" in err
    out_lines = sorted(read_jsonl(out), key=lambda r: r["id"])
    assert [r["output"][0]["label"] for r in out_lines] == [expected_label(t) for t in texts]
    assert main([*argv, "--top-k", "0"]) == 2
    assert "top_k" in capsys.readouterr().err
    assert main(argv) == 1  # the job exists: --resume is needed
    assert "--resume" in capsys.readouterr().err
    assert main([*argv, "--resume", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_provider_option_takes_the_generated_provider_names() -> None:
    from typing import get_args

    from hfinfer._generated.providers import Provider

    parser = build_parser()
    for command in ("batch", "run"):
        for sub in _subcommands(parser, command).values():
            action = next(a for a in sub._actions if a.dest == "provider")
            assert tuple(action.choices or ()) == get_args(Provider)
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "feature_extraction", "x", "--provider", "no-such-provider"])


# A provider of the generated table that serves feature-extraction by the Hugging Face router.
PROVIDER = "hf-inference"
ROUTED = f"https://router.huggingface.co/{PROVIDER}/"


def test_provider_option_sends_batch_and_run_to_that_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx
    import respx

    from hfinfer._generated.providers import PROVIDER_NAMES

    assert PROVIDER in PROVIDER_NAMES
    texts = ["a", "bb", "ccc"]
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    out = tmp_path / "out.jsonl"

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer hf_test"
        return httpx.Response(200, json=expected_embedding(json.loads(request.content)["inputs"]))

    # respx at the httpx client: it intercepts the async client on every engine (no network).
    with respx.mock(using="httpx", assert_all_mocked=True) as mock:
        route = mock.post(url__startswith=ROUTED).mock(side_effect=answer)
        common = ["--model", "org/embedder", "--provider", PROVIDER, "--token", "hf_test"]
        code = main(["batch", "feature_extraction", str(src), str(out), *common, "--quiet"])
        assert code == 0
        assert route.call_count == len(texts)
        records = sorted(read_jsonl(out), key=lambda r: r["id"])
        assert [r["output"] for r in records] == [expected_embedding(t) for t in texts]
        manifest = json.loads((tmp_path / "out.jsonl.hfinfer" / "manifest.json").read_text())
        assert manifest["provider"] == PROVIDER

        code = main(["run", "feature_extraction", *common, "hello"])
        assert code == 0
        assert json.loads(capsys.readouterr().out) == expected_embedding("hello")
        assert route.call_count == len(texts) + 1

    # The provider is part of the job: resuming with another one (here: none) is refused.
    code = main(
        ["batch", "feature_extraction", str(src), str(out), "--model", "org/embedder", "--resume"]
    )
    assert code == 1
    assert "provider" in capsys.readouterr().err
