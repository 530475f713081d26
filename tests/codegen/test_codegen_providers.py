"""Provider files: validated against the task bindings (the file and JSON pointer of every
mistake), compiled into generated/providers.py and the README table; a made-up provider added as
a data file alone, in a temporary copy, is called end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import dump

from codegen.cli import main
from codegen.errors import SchemaError
from codegen.pipeline import build
from codegen.providers import README_END, README_START

ROOT = Path(__file__).resolve().parents[2]

ACME: dict[str, Any] = {
    "router": "acme",
    "base_url": "https://api.acme.test/",
    "auth": {"scheme": "Key"},
    "headers": {"X-Acme-Channel": "hfinfer"},
    "tasks": {
        "chat-completion": {"kind": "chat-completions", "route": "/v2/{model}/chat"},
        "text-generation": {
            "kind": "text-completions",
            "route": "/v2/complete",
            "rename": {"max_new_tokens": "max_length"},
            "drop": ["details", "do_sample", "return_full_text", "stop_sequences"],
        },
    },
}


def add_provider(schemas: Path, name: str, data: Any) -> Path:
    return dump(schemas / "providers" / f"{name}.json", data)


def build_error(schemas: Path) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        build(schemas)
    return info.value


@pytest.mark.parametrize(
    ("change", "pointer", "message"),
    [
        (
            {"tasks": {"chat-completion": {"kind": "grpc"}}},
            "/tasks/chat-completion/kind",
            "unknown protocol kind 'grpc'",
        ),
        ({"colour": "red"}, "/colour", "unknown key 'colour'"),
        ({"tasks": {"no-such-task": {"kind": "hf-task"}}}, "/tasks/no-such-task", "unknown key"),
        (
            {
                "tasks": {
                    "text-generation": {
                        "kind": "text-completions",
                        "rename": {"max_tokens_typo": "x"},
                    }
                }
            },
            "/tasks/text-generation/rename/max_tokens_typo",
            "unknown key",
        ),
        (
            {"tasks": {"text-generation": {"kind": "text-completions", "drop": ["nope"]}}},
            "/tasks/text-generation/drop/0",
            "'nope' is not an argument of 'text-generation'",
        ),
        (
            {"tasks": {"text-generation": {"kind": "chat-completions"}}},
            "/tasks/text-generation/kind",
            "needs a chat task",
        ),
        (
            {"tasks": {"chat-completion": {"kind": "chat-completions", "unknown": 1}}},
            "/tasks/chat-completion/unknown",
            "unknown key 'unknown'",
        ),
        ({"auth": {"scheme": "Basic"}}, "/auth/scheme", "expected one of ['Bearer', 'Key']"),
        (
            {
                "tasks": {
                    "text-to-image": {"kind": "json", "route": "/x", "response": {"media": "gif"}}
                }
            },
            "/tasks/text-to-image/response/media",
            "expected one of ['url', 'base64', 'data-url', 'raw']",
        ),
        (
            {"tasks": {"text-to-image": {"kind": "job", "route": "/x"}}},
            "/tasks/text-to-image",
            "kind 'job' needs a `job`",
        ),
        (
            {"tasks": {"text-to-image": {"kind": "json", "route": "/x", "job": {}}}},
            "/tasks/text-to-image",
            "other kinds have none",
        ),
        (
            {
                "tasks": {
                    "text-to-image": {
                        "kind": "job",
                        "route": "/x",
                        "job": {"id": "id", "done": ["ok"]},
                    }
                }
            },
            "/tasks/text-to-image/job",
            "a job needs 'status_url'",
        ),
        (
            {
                "tasks": {
                    "text-to-image": {
                        "kind": "job",
                        "route": "/x",
                        "job": {"id": "id", "done": ["ok"], "status_url": "{base}/{job}"},
                    }
                }
            },
            "/tasks/text-to-image/job/status_url",
            "unknown template field",
        ),
        (
            {"tasks": {"text-to-image": {"kind": "json", "route": "/x", "spread": ["nope"]}}},
            "/tasks/text-to-image/spread/0",
            "'nope' is not an argument of 'text-to-image'",
        ),
        (
            {
                "tasks": {
                    "text-to-image": {
                        "kind": "job",
                        "route": "/x",
                        "job": {"id": "id", "done": ["ok"], "status_url": "{base}", "interval": 0},
                    }
                }
            },
            "/tasks/text-to-image/job/interval",
            "expected a number > 0",
        ),
        (
            {
                "tasks": {
                    "image-to-video": {
                        "kind": "json",
                        "route": "/x",
                        "parameters": "nested",
                        "spread": ["target_size"],
                    }
                }
            },
            "/tasks/image-to-video/spread",
            "it needs parameters",
        ),
        (
            {"tasks": {"text-to-image": {"kind": "json"}}},
            "/tasks/text-to-image",
            "kind 'json' needs a `route`",
        ),
        (
            {"tasks": {"text-to-image": {"kind": "transcription"}}},
            "/tasks/text-to-image/kind",
            "needs a task with a binary main input",
        ),
        ({"base_url": "http://plain.test"}, "/base_url", "https://"),
        (
            {"tasks": {"chat-completion": {"kind": "chat-completions", "response": {"pick": "x"}}}},
            "/tasks/chat-completion/response/pick",
            "unknown key",
        ),
    ],
)
def test_bad_provider_files_fail_fast_naming_file_and_pointer(
    repo_copy: tuple[Path, Path], change: dict[str, Any], pointer: str, message: str
) -> None:
    schemas, _ = repo_copy
    path = add_provider(schemas, "acme", {**ACME, **change})
    error = build_error(schemas)
    assert error.path == path
    assert error.pointer == pointer
    assert message in error.message


def test_generated_table_and_type(repo_copy: tuple[Path, Path]) -> None:
    schemas, _ = repo_copy
    add_provider(schemas, "acme", ACME)
    files = build(schemas)
    source = files["providers.py"]
    assert '    "acme",\n' in source.split("Provider = Literal[", 1)[1].split("]", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(source, "providers.py", "exec"), namespace)
    acme = namespace["PROVIDERS"]["acme"]
    assert acme.base_url == "https://api.acme.test"
    assert (acme.auth_scheme, acme.key_required, acme.mapping) == ("Key", True, True)
    assert acme.headers == (("X-Acme-Channel", "hfinfer"),)
    chat, completions = acme.tasks["chat-completion"], acme.tasks["text-generation"]
    assert (chat.kind, chat.route, chat.hub_task, chat.model) == (
        "chat-completions", "/v2/{model}/chat", "conversational", "first",
    )  # fmt: skip
    assert set(completions.renames) == {
        (("inputs",), "prompt", None), (("parameters", "max_new_tokens"), "max_length", None),
    }  # fmt: skip
    assert ("parameters", "details") in completions.drops
    assert completions.flatten == ("parameters",)
    assert completions.response.fields[0] == (("generated_text",), ("choices", "0", "text"))
    assert build(schemas) == files  # deterministic


def test_readme_table_is_generated_and_checked(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    readme = schemas.parent / "README.md"
    readme.write_text(f"# x\n\n{README_START}\nstale\n{README_END}\n\nrest\n", encoding="utf-8")
    assert main(["check", "--schemas", str(schemas), "--out", str(generated)]) == 1
    assert "differs: ../README.md" in capsys.readouterr().err
    assert main(["generate", "--schemas", str(schemas), "--out", str(generated)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "| `together` | `https://router.huggingface.co/together` |" in text
    assert "stale" not in text and text.endswith(f"{README_END}\n\nrest\n")
    assert main(["check", "--schemas", str(schemas), "--out", str(generated)]) == 0


def test_the_project_readme_table_is_current() -> None:
    files = build(ROOT / "schemas")
    assert files["../README.md"] == (ROOT / "README.md").read_text(encoding="utf-8")


_E2E = textwrap.dedent(
    """
    import asyncio, importlib.util, json, sys
    import httpx, respx
    import hfinfer
    out = sys.argv[1]
    for name in [m for m in sys.modules if m.startswith("hfinfer._generated")]:
        del sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        "hfinfer._generated", out + "/__init__.py", submodule_search_locations=[out]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["hfinfer._generated"] = module
    spec.loader.exec_module(module)
    from hfinfer._generated.providers import PROVIDERS
    hfinfer._providers.install(PROVIDERS)  # what `import hfinfer` does with the real table
    from hfinfer._generated.client import InferenceClient
    from hfinfer._generated.async_client import AsyncInferenceClient

    MAPPING = {"inferenceProviderMapping": {
        "acme": {"providerId": "acme/chat-7b", "task": "conversational", "status": "live"},
    }}
    OUT = {"id": "1", "object": "chat.completion", "created": 1, "model": "m",
           "system_fingerprint": "", "usage": {"prompt_tokens": 1, "completion_tokens": 1,
           "total_tokens": 2}, "choices": [{"index": 0, "finish_reason": "stop",
           "message": {"role": "assistant", "content": "hello"}}]}
    seen = []
    with respx.mock(assert_all_mocked=True, using="httpx") as mock:
        mock.get("https://huggingface.co/api/models/org/m?expand=inferenceProviderMapping").respond(json=MAPPING)
        direct = mock.post("https://api.acme.test/v2/acme/chat-7b/chat").respond(json=OUT)
        routed = mock.post("https://router.huggingface.co/acme/v2/acme/chat-7b/chat").respond(json=OUT)
        msgs = [{"role": "user", "content": "hi"}]
        r = InferenceClient("org/m", provider="acme", token="acme-key").chat_completion(msgs)
        seen.append((r.choices[0].message.content, dict(direct.calls.last.request.headers),
                     json.loads(direct.calls.last.request.content)))

        async def run():
            async with AsyncInferenceClient("org/m", provider="acme", token="hf_x") as c:
                return await c.chat_completion(msgs)

        r = asyncio.run(run())
        seen.append((r.choices[0].message.content, dict(routed.calls.last.request.headers),
                     json.loads(routed.calls.last.request.content)))
    print(json.dumps([[c, {k: h.get(k) for k in ("authorization", "x-acme-channel")}, b]
                      for c, h, b in seen]))
    """
)


def test_a_made_up_provider_is_a_data_file_alone(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, _ = repo_copy
    add_provider(schemas, "acme", ACME)
    out = schemas.parent / "out"
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    capsys.readouterr()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_INFERENCE_ENDPOINT", "HF_ENDPOINT", "HF_TOKEN")}  # fmt: skip
    env["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", _E2E, str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    body = {"model": "acme/chat-7b", "messages": [{"role": "user", "content": "hi"}], "stream": False}  # fmt: skip
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        ["hello", {"authorization": "Key acme-key", "x-acme-channel": "hfinfer"}, body],
        ["hello", {"authorization": "Bearer hf_x", "x-acme-channel": "hfinfer"}, body],
    ]
