"""The Ray Data stage on a local cluster gives the same outputs as the single-process engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hfinfer.batch import BatchJob, run_job
from tests.batch.conftest import read_jsonl, write_jsonl
from tests.batch.server import BatchServer, expected_embedding

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]

TEXTS = [f"ray row {i}" + "!" * (i % 4) for i in range(60)] + ["status=400 here"]


def test_stage_matches_the_single_process_engine(
    ray_cluster: Any, server: BatchServer, tmp_path: Path
) -> None:
    import ray.data

    from hfinfer.ray import inference_stage

    model = f"{server.url}/embed"
    rows = [{"key": f"k{i}", "text": t} for i, t in enumerate(TEXTS)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    run_job(
        BatchJob("feature_extraction", src, tmp_path / "local.jsonl", model=model,
                 id_column="key", progress="quiet")
    )  # fmt: skip
    local = {r["id"]: r for r in read_jsonl(tmp_path / "local.jsonl")}
    ds = ray.data.from_items(rows, override_num_blocks=4)
    out = inference_stage(ds, "feature_extraction", model=model, actors=2, batch_size=16).take_all()
    assert len(out) == len(rows)
    by_key = {r["key"]: r for r in out}
    assert set(by_key) == set(local)
    for key, row in by_key.items():
        if local[key]["error"] is None:
            assert row["error"] is None
            assert _plain(row["output"]) == local[key]["output"] == expected_embedding(row["text"])
        else:
            assert row["output"] is None
            assert row["error"]["type"] == local[key]["error"]["type"] == "BadRequestError"
            assert row["error"]["status_code"] == 400 and row["error"]["attempts"] == 1


def test_cli_engine_ray_resumes_without_duplicates(
    ray_cluster: Any, server: BatchServer, tmp_path: Path
) -> None:
    import pyarrow.dataset as pads

    from hfinfer._cli import main

    rows = [{"key": f"k{i}", "text": t} for i, t in enumerate(TEXTS[:40])]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.parquet"
    argv = ["batch", "feature_extraction", str(src), str(out), "--model", f"{server.url}/embed",
            "--engine", "ray", "--id", "key", "--ray-actors", "2", "--batch-size", "8"]  # fmt: skip
    assert main(argv) == 0
    table = pads.dataset(str(out), format="parquet").to_table().to_pylist()
    assert sorted(r["key"] for r in table) == sorted(r["key"] for r in rows)
    for r in table:
        assert _plain(r["output"]) == expected_embedding(r["text"]) and r["error"] is None
    sent = sum(server.counts.values())
    assert main(argv) == 0  # the checkpoint is kept: nothing re-sent, nothing appended twice
    again = pads.dataset(str(out), format="parquet").to_table().to_pylist()
    assert len(again) == len(rows) and sum(server.counts.values()) == sent


def _plain(value: Any) -> Any:
    """Ray hands nested lists back as numpy arrays or lists, depending on the block format."""
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return json.loads(json.dumps(value))
