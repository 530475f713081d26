"""Resumability: `kill -9` of `hfinfer batch` at random moments, then `--resume`.

Every id ends up in the output exactly once, and the server answers no row twice beyond the ones
in flight or in the unwritten group at each kill (the journal's bound: concurrency + one group).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hfinfer.batch import BatchJob, JobStateError, run_job
from hfinfer.batch._journal import GROUP_SIZE

from .conftest import read_jsonl, write_jsonl
from .server import BatchServer, expected_label

ROWS = 1500
CONCURRENCY = 8


def _command(url: str, src: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "hfinfer", "batch", "text_classification", str(src), str(out),
        "--model", f"{url}/classify", "--concurrency", str(CONCURRENCY), "--id", "key",
        "--resume", "--quiet", *extra,
    ]  # fmt: skip


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HTTP", "HTTPS"))}
    env["HF_TOKEN_PATH"] = str(tmp_path / "no-token")
    return env


def _journal_lines(out: Path) -> int:
    return out.read_bytes().count(b"\n") if out.exists() else 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_then_resume_gives_every_id_exactly_once(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    server = BatchServer(delay=0.004).start()
    try:
        texts = [f"row {i} " + "x" * rng.randrange(0, 9) for i in range(ROWS)]
        src = write_jsonl(
            tmp_path / "in.jsonl", [{"key": f"k{i}", "text": t} for i, t in enumerate(texts)]
        )
        out = tmp_path / "out.jsonl"
        kills = 0
        for _ in range(2):
            before = _journal_lines(out)
            proc = subprocess.Popen(_command(server.url, src, out), env=_env(tmp_path))
            # Kill once the job is under way: after a random number of rows past its start.
            target = before + rng.randrange(20, 500)
            deadline = time.monotonic() + 30
            while _journal_lines(out) < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the job made no progress"
                time.sleep(0.002)
            time.sleep(rng.random() * 0.05)
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(30)
        finished = subprocess.run(_command(server.url, src, out), env=_env(tmp_path), timeout=120)
        assert finished.returncode == 0
        lines = read_jsonl(out)
        ids = [line["id"] for line in lines]
        assert len(ids) == len(set(ids)) == ROWS
        for line in lines:
            text = texts[int(line["id"][1:])]
            assert line["error"] is None
            assert line["output"][0]["label"] == expected_label(text)
        assert kills >= 1
        assert server.answered_twice() <= kills * (CONCURRENCY + GROUP_SIZE)
    finally:
        server.stop()


def test_a_torn_last_line_is_dropped_and_redone(tmp_path: Path, server: BatchServer) -> None:
    texts = [f"line {i}" for i in range(30)]
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in texts])
    out = tmp_path / "out.jsonl"
    job = BatchJob(
        "text_classification", src, out, model=f"{server.url}/classify", progress="quiet",
        resume=True,
    )  # fmt: skip
    run_job(job)
    lines = out.read_bytes().splitlines(keepends=True)
    manifest = tmp_path / "out.jsonl.hfinfer" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["complete"] = False  # as if killed while writing the last rows
    manifest.write_text(json.dumps(data))
    out.write_bytes(b"".join(lines[:-3]) + lines[-3][:17])  # the last line torn mid-write
    summary = run_job(job)
    final = read_jsonl(out)
    assert sorted(r["id"] for r in final) == list(range(30))
    assert summary.done == 3 and summary.skipped == 27


def test_a_changed_input_is_refused_on_resume(tmp_path: Path, server: BatchServer) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": f"a{i}"} for i in range(10)])
    out = tmp_path / "out.jsonl"
    job = BatchJob(
        "text_classification", src, out, model=f"{server.url}/classify", progress="quiet",
        resume=True,
    )  # fmt: skip
    run_job(job)
    write_jsonl(src, [{"text": f"a{i}"} for i in range(11)])
    sent = sum(server.counts.values())
    with pytest.raises(JobStateError, match="input file changed"):
        run_job(job)
    proc = subprocess.run(
        _command(server.url, src, out), env=_env(tmp_path), capture_output=True, text=True
    )
    assert proc.returncode == 1 and "input file changed" in proc.stderr
    assert sum(server.counts.values()) == sent


def test_a_second_process_on_the_same_job_is_refused(tmp_path: Path, server: BatchServer) -> None:
    from hfinfer.batch._journal import Lock, state_dir

    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "a"}])
    out = tmp_path / "out.jsonl"
    held = Lock(state_dir(out))
    try:
        proc = subprocess.run(
            _command(server.url, src, out), env=_env(tmp_path), capture_output=True, text=True
        )
    finally:
        held.release()
    assert proc.returncode == 1 and "another hfinfer batch process" in proc.stderr
