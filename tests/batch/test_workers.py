"""`workers=N`: a job's rows sent by N worker processes, the parent keeping the journal.

The same outputs as one process (errors as data, media files, OpenAI format), the concurrency
asked for in total, fatal conditions and broken inputs stopping every worker, bad settings
refused before any request, and `kill -9` of the parent leaving no worker sending.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hfinfer.batch import BatchJob, FatalError, InputFileError, run_job
from hfinfer.batch._journal import GROUP_SIZE
from hfinfer.batch._workers import _Inbox, shares
from hfinfer.errors import InferenceInputError

from .conftest import read_jsonl, write_jsonl
from .server import BatchServer, expected_embedding, expected_label

pytestmark = pytest.mark.timeout(120)

TEXTS = [f"text number {i}" if i % 3 else f"t{i}" for i in range(60)]


def _job(tmp_path: Path, server: BatchServer, route: str, **kw: Any) -> BatchJob:
    options: dict[str, Any] = {
        "method": "text_classification",
        "input": tmp_path / "in.jsonl",
        "output": tmp_path / "out.jsonl",
        "model": f"{server.url}/{route}",
        "progress": "quiet",
        "concurrency": 8,
        "workers": 2,
    }
    options.update(kw)
    return BatchJob(**options)


def _children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    return {pid for pid in pids if Path(f"/proc/{pid}").exists()}


def _no_workers_left() -> bool:
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not multiprocessing.active_children()


def test_shares_split_the_total_evenly() -> None:
    assert shares(64, 2) == [32, 32]
    assert shares(7, 3) == [3, 2, 2]
    assert sum(shares(33, 4)) == 33


def test_outputs_and_errors_as_in_one_process(
    tmp_path: Path, server: BatchServer, capfd: pytest.CaptureFixture[str]
) -> None:
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": t} for i, t in enumerate(TEXTS)]
    rows[3]["text"] = "status=400 please"
    rows[9]["text"] = "flaky one"
    rows[11] = {"id": "r11", "text": "x", "top_k": "many"}  # wrong type: recorded by the parent
    write_jsonl(tmp_path / "in.jsonl", rows)
    summary = run_job(
        _job(tmp_path, server, "classify", id_column="id", client_options={"max_retries": 2})
    )
    by_id = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert len(by_id) == len(rows) and summary.done == len(rows)
    assert by_id["r3"]["error"]["type"] == "BadRequestError" and by_id["r3"]["attempts"] == 1
    assert by_id["r9"]["error"] is None and by_id["r9"]["attempts"] == 2
    assert by_id["r11"]["error"]["parameter"] == "top_k" and by_id["r11"]["attempts"] == 0
    for key, line in by_id.items():
        if key not in ("r3", "r11"):
            text = rows[int(key[1:])]["text"]
            assert line["output"] == [{"label": expected_label(text), "score": len(text) / 100}]
    assert summary.failed == 2 and summary.retries == 1
    assert _no_workers_left()
    assert "Traceback" not in capfd.readouterr().err  # the workers ended quietly


def test_the_concurrency_is_shared_not_multiplied(tmp_path: Path) -> None:
    srv = BatchServer(delay=0.05).start()
    try:
        write_jsonl(tmp_path / "in.jsonl", [{"text": f"t{i}"} for i in range(80)])
        run_job(_job(tmp_path, srv, "embed", method="feature_extraction", concurrency=10))
        assert srv.max_in_flight == 10
        lines = read_jsonl(tmp_path / "out.jsonl")
        assert sorted(r["id"] for r in lines) == list(range(80))
        assert all(r["output"] == expected_embedding(f"t{r['id']}") for r in lines)
    finally:
        srv.stop()


def test_media_and_openai_format_from_workers(tmp_path: Path, server: BatchServer) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"id": n, "prompt": n} for n in ("dog", "cat", "owl")])
    run_job(_job(tmp_path, server, "image", method="text_to_image", id_column="id"))
    out = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    assert out["dog"]["output"] == {"file": "out.jsonl.files/dog.png", "media_type": "image/png"}
    assert (tmp_path / "out.jsonl.files" / "owl.png").read_bytes().startswith(b"\x89PNG")

    requests = [
        {"custom_id": f"c{i}", "method": "POST", "url": "/v1/embeddings", "body": {"inputs": t}}
        for i, t in enumerate(TEXTS[:10])
    ]
    write_jsonl(tmp_path / "batch.jsonl", requests)
    job = _job(
        tmp_path, server, "embed", method="feature_extraction",
        input=tmp_path / "batch.jsonl", output=tmp_path / "batch-out.jsonl",
    )  # fmt: skip
    run_job(job)
    lines = {r["custom_id"]: r for r in read_jsonl(tmp_path / "batch-out.jsonl")}
    assert len(lines) == 10
    assert lines["c4"]["response"]["body"] == expected_embedding(TEXTS[4])


def test_a_fatal_answer_in_a_worker_stops_every_worker(tmp_path: Path, server: BatchServer) -> None:
    rows = [{"text": t} for t in TEXTS[:20]] + [{"text": "status=401"}] + [{"text": "z"}] * 200
    write_jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(FatalError, match="401"):
        run_job(_job(tmp_path, server, "classify", concurrency=2))
    assert _no_workers_left()
    done = read_jsonl(tmp_path / "out.jsonl")
    ids = [r["id"] for r in done]
    assert len(ids) == len(set(ids)) and len(ids) < len(rows)
    assert all(r["error"] is None for r in done)  # the 401 itself is not a row's result


def test_a_broken_input_line_stops_every_worker(tmp_path: Path, server: BatchServer) -> None:
    good = "".join(f'{{"text": "line {i}"}}\n' for i in range(30))
    (tmp_path / "in.jsonl").write_text(good + '{"text": \n')
    with pytest.raises(InputFileError, match="line 31"):
        run_job(_job(tmp_path, server, "classify"))
    assert _no_workers_left()
    ids = [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")]
    assert len(ids) == len(set(ids)) and set(ids) <= set(range(30))


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"workers": 0}, "must be an int >= 1"),
        ({"workers": True}, "must be an int >= 1"),
        ({"workers": 4, "concurrency": 3}, "concurrency of 4"),
        ({"client": object()}, "cannot be shared"),
    ],
)
def test_bad_worker_settings_are_refused_before_any_request(
    tmp_path: Path, server: BatchServer, settings: dict[str, Any], match: str
) -> None:
    write_jsonl(tmp_path / "in.jsonl", [{"text": t} for t in TEXTS])
    with pytest.raises(InferenceInputError, match=match) as caught:
        run_job(_job(tmp_path, server, "classify", **settings))
    assert caught.value.parameter == "workers"
    assert sum(server.counts.values()) == 0


def test_kill_9_of_the_parent_stops_its_workers_and_resume_finishes(tmp_path: Path) -> None:
    server = BatchServer(delay=0.01).start()
    try:
        rows = 3000
        src = write_jsonl(tmp_path / "in.jsonl", [{"text": f"row {i}"} for i in range(rows)])
        out = tmp_path / "out.jsonl"
        command = [
            sys.executable, "-m", "hfinfer", "batch", "text_classification", str(src), str(out),
            "--model", f"{server.url}/classify", "--concurrency", "8", "--workers", "2",
            "--resume", "--quiet",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HTTP"))}
        env["HF_TOKEN_PATH"] = str(tmp_path / "no-token")
        proc = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + 60
        while (not out.exists() or out.read_bytes().count(b"\n") < 300) and proc.poll() is None:
            assert time.monotonic() < deadline, "the job made no progress"
            time.sleep(0.01)
        workers = _children(proc.pid)
        assert len(workers) >= 2  # the two workers (and multiprocessing's resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        deadline = time.monotonic() + 10
        while _alive(workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(workers), "a worker outlived its parent"
        sent = sum(server.counts.values())
        assert sent < rows

        finished = subprocess.run(command, env=env, timeout=120)
        assert finished.returncode == 0
        lines = read_jsonl(out)
        assert sorted(line["id"] for line in lines) == list(range(rows))
        assert all(line["error"] is None for line in lines)
        # Rows answered but not journaled at the kill: in flight, in the pipes, or in the group.
        assert server.answered_twice() <= 2 * 8 + GROUP_SIZE
    finally:
        server.stop()


def test_a_worker_killed_mid_job_stops_it_unfinished(tmp_path: Path) -> None:
    server = BatchServer(delay=0.01).start()
    try:
        write_jsonl(tmp_path / "in.jsonl", [{"text": f"row {i}"} for i in range(3000)])
        out = tmp_path / "out.jsonl"

        def kill_one_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if out.exists() and out.read_bytes().count(b"\n") >= 100:
                    break
                time.sleep(0.01)
            os.kill(multiprocessing.active_children()[0].pid, signal.SIGKILL)  # type: ignore[arg-type]

        killer = threading.Thread(target=kill_one_worker)
        killer.start()
        with pytest.raises(FatalError, match="stopped unexpectedly"):
            run_job(_job(tmp_path, server, "classify"))
        killer.join()
        assert _no_workers_left()
        manifest = json.loads((tmp_path / "out.jsonl.hfinfer" / "manifest.json").read_text())
        assert (
            manifest["complete"] is False
            and "stopped unexpectedly" in manifest["summary"]["aborted"]
        )
        run_job(_job(tmp_path, server, "classify", resume=True))
        assert sorted(r["id"] for r in read_jsonl(out)) == list(range(3000))
    finally:
        server.stop()


def test_every_waiting_task_wakes_when_a_group_arrives() -> None:
    async def main() -> list[Any]:
        inbox = _Inbox(asyncio.current_task())  # type: ignore[arg-type]
        waiters = [asyncio.ensure_future(inbox.next_row()) for _ in range(3)]
        await asyncio.sleep(0)
        inbox.deliver(("rows", [(i, {"text": f"t{i}"}, None, None) for i in range(3)]))
        done, _ = await asyncio.wait(waiters, timeout=1.0)
        assert len(done) == 3  # one message, three rows, three tasks at work
        inbox.deliver(("end",))
        ends = await asyncio.gather(inbox.next_row(), inbox.next_row())
        return [w.result().id for w in waiters] + ends

    assert asyncio.run(main()) == [0, 1, 2, None, None]
