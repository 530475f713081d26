"""`--retry-failed`: on resume, only the rows whose record is an error are sent again, and each
id keeps one record (the new one), in JSONL and in Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hfinfer._cli import main
from hfinfer.batch import BatchJob, run_job

from .conftest import read_jsonl, write_jsonl
from .server import BatchServer, expected_label

TEXTS = ["fine one", "flaky a", "fine two", "flaky b", "status=400 always", "fine three"]


def _job(tmp_path: Path, server: BatchServer, output: str, **kwargs: Any) -> BatchJob:
    return BatchJob(
        "text_classification",
        tmp_path / "in.jsonl",
        tmp_path / output,
        model=f"{server.url}/classify",
        progress="quiet",
        client_options={"max_retries": 0},  # "flaky" fails its first request for good
        **kwargs,
    )


def _records(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("output", ["out.jsonl", "out.parquet"])
def test_retry_failed_sends_only_the_failed_rows_and_keeps_one_record_each(
    tmp_path: Path, server: BatchServer, output: str
) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    first = run_job(_job(tmp_path, server, output))
    assert first.failed == 3  # both flaky rows and the 400
    failed_before = {r["id"] for r in _records(tmp_path / output) if r["error"] is not None}
    assert failed_before == {1, 3, 4}

    # A plain resume of a finished job sends nothing, failed rows included.
    sent = sum(server.counts.values())
    run_job(_job(tmp_path, server, output, resume=True))
    assert sum(server.counts.values()) == sent

    second = run_job(_job(tmp_path, server, output, resume=True, retry_failed=True))
    assert second.skipped == len(TEXTS) - 3 and second.done == 3
    for text in ("fine one", "fine two", "fine three"):
        assert server.counts[text] == 1  # never sent again
    for text in ("flaky a", "flaky b", "status=400 always"):
        assert server.counts[text] == 2  # once per run
    records = _records(tmp_path / output)
    assert sorted(r["id"] for r in records) == list(range(len(TEXTS)))  # one record per id
    by_id = {r["id"]: r for r in records}
    for i, text in enumerate(TEXTS):
        if text.startswith("status="):
            assert by_id[i]["error"]["status_code"] == 400
            continue
        assert by_id[i]["error"] is None
        output_value = by_id[i]["output"]
        if isinstance(output_value, str):  # Parquet keeps outputs as JSON text
            output_value = json.loads(output_value)
        assert output_value[0]["label"] == expected_label(text)
    manifest = json.loads((tmp_path / f"{output}.hfinfer" / "manifest.json").read_text())
    assert manifest["complete"] is True


def test_retry_failed_from_the_command_line(tmp_path: Path, server: BatchServer) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    out = tmp_path / "out.jsonl"
    common = ["batch", "text_classification", str(tmp_path / "in.jsonl"), str(out), "--model",
              f"{server.url}/classify", "--max-retries", "0", "--quiet"]  # fmt: skip
    assert main(common) == 0
    assert main([*common, "--resume", "--retry-failed"]) == 0
    records = read_jsonl(out)
    assert len(records) == len(TEXTS)
    assert [r["id"] for r in records if r["error"] is not None] == [4]
