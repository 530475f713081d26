"""Batch jobs in this process against the loopback server: outputs, errors as data, formats."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hfinfer.batch import BatchJob, FatalError, InputFileError, JobStateError, run_job
from hfinfer.errors import InferenceInputError

from .conftest import read_jsonl, write_jsonl
from .server import BatchServer, expected_embedding, expected_label

TEXTS = [f"text number {i}" if i % 3 else f"t{i}" for i in range(40)]


def _job(tmp_path: Path, server: BatchServer, route: str, name: str, **kw: object) -> BatchJob:
    options: dict[str, object] = {
        "method": "text_classification",
        "input": tmp_path / "in.jsonl",
        "output": tmp_path / name,
        "model": f"{server.url}/{route}",
        "progress": "quiet",
        "concurrency": 8,
    }
    options.update(kw)
    return BatchJob(**options)  # type: ignore[arg-type]


def test_plain_jsonl_every_output_correct(tmp_path: Path, server: BatchServer) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    summary = run_job(_job(tmp_path, server, "embed", "out.jsonl", method="feature_extraction"))
    lines = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(r["id"] for r in lines) == list(range(len(TEXTS)))
    for line in lines:
        assert line["error"] is None
        assert line["output"] == expected_embedding(TEXTS[line["id"]])
        assert line["attempts"] == 1 and line["latency_ms"] > 0
    assert summary.done == len(TEXTS) and summary.failed == 0 and summary.p95_ms is not None
    manifest = json.loads((tmp_path / "out.jsonl.hfinfer" / "manifest.json").read_text())
    assert manifest["complete"] is True and manifest["summary"]["ok"] == len(TEXTS)


def test_faulty_rows_are_typed_errors_and_the_rest_succeed(
    tmp_path: Path, server: BatchServer
) -> None:
    rows = [{"id": f"r{i}", "text": t} for i, t in enumerate(TEXTS)]
    rows[3]["text"] = "status=400 please"
    rows[7]["text"] = "status=500 always"
    rows[9]["text"] = "flaky one"
    rows[11] = {"id": "r11", "text": "x", "top_k": "many"}  # wrong type: no request
    rows[13] = {"id": "r13", "txt": "typo"}  # unknown field: no request
    write_jsonl(tmp_path / "in.jsonl", rows)
    summary = run_job(
        _job(
            tmp_path,
            server,
            "classify",
            "out.jsonl",
            id_column="id",
            client_options={"max_retries": 2},
        )
    )
    by_id = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert len(by_id) == len(rows)
    assert by_id["r3"]["error"]["type"] == "BadRequestError"
    assert by_id["r3"]["error"]["status_code"] == 400 and by_id["r3"]["attempts"] == 1
    assert by_id["r7"]["error"]["type"] == "HfHubHTTPError"
    assert by_id["r7"]["error"]["retryable"] is True and by_id["r7"]["attempts"] == 3
    assert by_id["r9"]["error"] is None and by_id["r9"]["attempts"] == 2
    assert by_id["r11"]["error"]["type"] == "InferenceInputError"
    assert by_id["r11"]["error"]["parameter"] == "top_k" and by_id["r11"]["attempts"] == 0
    assert by_id["r13"]["error"]["parameter"] == "txt"
    for key, line in by_id.items():
        if key not in ("r3", "r7", "r11", "r13"):
            text = rows[int(key[1:])]["text"]
            assert line["output"] == [{"label": expected_label(text), "score": len(text) / 100}]
    assert summary.failed == 4 and summary.retries == 3
    assert summary.errors == {"BadRequestError": 1, "HfHubHTTPError": 1, "InferenceInputError": 2}
    assert server.counts["typo"] == 0


def test_openai_batch_in_gives_openai_batch_out(tmp_path: Path, server: BatchServer) -> None:
    lines = [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": t}], "max_tokens": 4},
        }
        for i, t in enumerate(TEXTS[:10])
    ]
    lines.append({"custom_id": "bad", "method": "POST", "url": "/v1/x", "body": {"nope": 1}})
    lines.append(
        {"custom_id": "e400", "method": "POST", "url": "/v1/chat/completions",
         "body": {"messages": [{"role": "user", "content": "status=400"}]}}
    )  # fmt: skip
    write_jsonl(tmp_path / "in.jsonl", lines)
    run_job(_job(tmp_path, server, "v1", "out.jsonl", method="chat_completion"))
    out = {r["custom_id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert set(out) == {line["custom_id"] for line in lines}
    for i, text in enumerate(TEXTS[:10]):
        line = out[f"req-{i}"]
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200
        body = line["response"]["body"]
        assert body["choices"][0]["message"]["content"] == f"echo: {text}"
        assert body["model"] == "m"
    assert out["bad"]["response"] is None
    assert out["bad"]["error"]["code"] == "InferenceInputError"
    assert "nope" in out["bad"]["error"]["message"]
    assert out["e400"]["response"]["status_code"] == 400
    assert out["e400"]["error"]["code"] == "BadRequestError"


def test_images_go_to_files_beside_the_output_or_base64(
    tmp_path: Path, server: BatchServer
) -> None:
    write_jsonl(
        tmp_path / "in.jsonl", [{"id": "a/b", "prompt": "cat"}, {"id": "dog", "prompt": "d"}]
    )
    run_job(_job(tmp_path, server, "image", "out.jsonl", method="text_to_image", id_column="id"))
    out = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert out["dog"]["output"] == {"file": "out.jsonl.files/dog.png", "media_type": "image/png"}
    assert (tmp_path / out["a/b"]["output"]["file"]).read_bytes().startswith(b"\x89PNG")
    assert "/" not in out["a/b"]["output"]["file"].split("files/")[1]
    run_job(
        _job(
            tmp_path,
            server,
            "image",
            "b64.jsonl",
            method="text_to_image",
            id_column="id",
            binary="base64",
        )
    )
    b64 = {r["id"]: r for r in read_jsonl(tmp_path / "b64.jsonl")}
    assert base64.b64decode(b64["dog"]["output"]["base64"]).startswith(b"\x89PNG")


def test_csv_in_parquet_out(tmp_path: Path, server: BatchServer) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.table({"key": [f"k{i}" for i in range(30)], "text": TEXTS[:30], "note": ["x"] * 30})
    pacsv.write_csv(table, tmp_path / "in.csv")
    job = _job(
        tmp_path, server, "embed", "out.parquet", method="feature_extraction",
        input=tmp_path / "in.csv", id_column="key", ignore_columns=("note",),
    )  # fmt: skip
    run_job(job)
    result = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert sorted(r["id"] for r in result) == sorted(f"k{i}" for i in range(30))
    for r in result:
        assert json.loads(r["output"]) == expected_embedding(TEXTS[int(r["id"][1:])])
        assert r["error"] is None and r["attempts"] == 1


def test_parquet_in_jsonl_out(tmp_path: Path, server: BatchServer) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": TEXTS}), tmp_path / "in.parquet")
    run_job(_job(tmp_path, server, "classify", "out.jsonl", input=tmp_path / "in.parquet"))
    out = sorted(read_jsonl(tmp_path / "out.jsonl"), key=lambda r: r["id"])
    assert [r["output"][0]["label"] for r in out] == [expected_label(t) for t in TEXTS]


def test_bad_settings_are_refused_before_any_request(tmp_path: Path, server: BatchServer) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    cases = [
        ({"method": "no_such_task"}, "method"),
        ({"params": {"top_kk": 3}}, "top_kk"),
        ({"params": {"top_k": 0}}, "top_k"),
        ({"output": tmp_path / "out.txt"}, "output"),
        ({"input": tmp_path / "missing.jsonl"}, "input"),
    ]
    for change, word in cases:
        with pytest.raises((InferenceInputError, ValueError), match=word):
            run_job(_job(tmp_path, server, "classify", "o.jsonl", **change))
    for value in (0, -1, True):
        with pytest.raises(ValueError, match="concurrency"):
            run_job(_job(tmp_path, server, "classify", "o.jsonl", concurrency=value))
    with pytest.raises(ValueError, match="rps"):
        run_job(_job(tmp_path, server, "classify", "o.jsonl", rps=0))
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pacsv

    pacsv.write_csv(pa.table({"text": ["a"], "extra": [1]}), tmp_path / "in.csv")
    with pytest.raises(InferenceInputError, match="extra"):
        run_job(_job(tmp_path, server, "classify", "o.jsonl", input=tmp_path / "in.csv"))
    assert sum(server.counts.values()) == 0


def test_401_stops_the_job_and_keeps_what_was_done(tmp_path: Path, server: BatchServer) -> None:
    rows = [{"text": t} for t in TEXTS[:20]] + [{"text": "status=401"}] + [{"text": "z"}] * 50
    write_jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(FatalError, match="401"):
        run_job(_job(tmp_path, server, "classify", "out.jsonl", concurrency=1))
    out = read_jsonl(tmp_path / "out.jsonl")
    assert sorted(r["id"] for r in out) == list(range(20))
    manifest = json.loads((tmp_path / "out.jsonl.hfinfer" / "manifest.json").read_text())
    assert manifest["complete"] is False and "401" in manifest["summary"]["aborted"]


def test_server_gone_longer_than_the_bound_is_fatal(tmp_path: Path) -> None:
    srv = BatchServer().start()
    url = srv.url
    srv.stop()  # nothing listens on this port any more
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    job = BatchJob(
        "text_classification", tmp_path / "in.jsonl", tmp_path / "out.jsonl", model=url,
        progress="quiet", fatal_after=0.3, client_options={"max_retries": 0},
    )  # fmt: skip
    with pytest.raises(FatalError, match="unreachable"):
        run_job(job)
    assert read_jsonl(tmp_path / "out.jsonl") == []  # rows are not failed for an outage


def test_duplicate_ids_and_broken_lines_stop_the_job(tmp_path: Path, server: BatchServer) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    with pytest.raises(InputFileError, match="twice"):
        run_job(_job(tmp_path, server, "classify", "out.jsonl", id_column="id", concurrency=1))
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["a"]
    (tmp_path / "in.jsonl").write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(InputFileError, match="line 2"):
        run_job(_job(tmp_path, server, "classify", "o2.jsonl", concurrency=1))


def test_existing_job_needs_resume_and_a_finished_job_sends_nothing(
    tmp_path: Path, server: BatchServer
) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    run_job(_job(tmp_path, server, "classify", "out.jsonl"))
    with pytest.raises(JobStateError, match="resume"):
        run_job(_job(tmp_path, server, "classify", "out.jsonl"))
    sent = sum(server.counts.values())
    summary = run_job(_job(tmp_path, server, "classify", "out.jsonl", resume=True))
    assert sum(server.counts.values()) == sent and summary.skipped == len(TEXTS)
    with pytest.raises(JobStateError, match="params"):
        run_job(_job(tmp_path, server, "classify", "out.jsonl", resume=True, params={"top_k": 2}))


def test_rate_limit_spaces_the_requests(tmp_path: Path, server: BatchServer) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS[:10]])
    summary = run_job(_job(tmp_path, server, "classify", "out.jsonl", rps=50.0))
    assert summary.done == 10 and summary.seconds >= 9 / 50


def test_concurrency_is_what_was_asked(tmp_path: Path) -> None:
    srv = BatchServer(delay=0.02).start()
    try:
        write_jsonl(tmp_path / "in.jsonl", [{"text": f"t{i}"} for i in range(60)])
        run_job(_job(tmp_path, srv, "classify", "out.jsonl", concurrency=12))
        assert srv.max_in_flight == 12
    finally:
        srv.stop()


def test_progress_bar_shows_errors_and_retries(tmp_path: Path) -> None:
    import io

    from hfinfer.batch import ErrorInfo
    from hfinfer.batch._progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = Progress(total=3, skipped=0, mode="auto", stream=stream)
    assert progress.mode == "bar"
    progress.update(None, 2, 5.0)
    progress.update(ErrorInfo("BadRequestError", "no"), 1, 1.0)
    progress.update(None, 1, 7.0)
    summary = progress.close()
    text = stream.getvalue()
    assert "3/3" in text and "errors=1" in text and "retries=1" in text
    assert "BadRequestError: 1" in text and summary.p50_ms == 6.0
