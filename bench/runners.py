"""Where a client's rounds run: in this process (`Local`) or in the second venv (`Remote`).

huggingface_hub 0.26 cannot be installed beside the latest release, so the bench session keeps it
in a venv of its own; `Remote` starts this file with that venv's python as a worker, which keeps
its clients across rounds as `Local` does and answers one JSON line per request on stdin:

    {"op": "open" | "warm" | "round" | "close", "mode": "sync" | "seq", "client", "workload", ...}
    {"op": "concurrent", "client", "workload", "n", "concurrency"}
    {"op": "compat", "client"}     {"op": "versions", "names": [...]}

Timing and the result checks happen inside the worker, with the same code as in-process (this
module's `Local`), so the pipe's cost is never timed. Run as a worker:
`python bench/runners.py BASE_URL CHUNKS DIM`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import async_clients
import server as srv
import sync_clients
import workloads as wl

HERE = Path(__file__).resolve().parent
Json = dict[str, Any]


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def versions(names: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


class Local:
    """Clients run in this process: sync ones directly, "seq" ones on one long-lived loop."""

    def __init__(self, base: str, chunks: int, dim: int) -> None:
        self.base, self.chunks, self.dim = base, chunks, dim
        self.sync: dict[tuple[str, str], wl.SyncAdapter] = {}
        self.seq: dict[tuple[str, str], wl.AsyncAdapter] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop

    def call(self, op: str, **kw: Any) -> Json:
        result: Json = getattr(self, "op_" + op)(**kw)
        return result

    def op_open(self, mode: str, client: str, workload: str) -> Json:
        check = wl.checker(workload, self.chunks, self.dim)
        try:
            if mode == "sync":
                adapter = sync_clients.make(client, workload, self.base)
                self.sync[client, workload] = adapter
                return {"error": check(adapter.once())}
            made = self.loop.run_until_complete(async_clients.make(client, workload, self.base, 1))
            self.seq[client, workload] = made
            return {"error": check(self.loop.run_until_complete(made.once()))}
        except Exception as exc:
            return {"error": describe_error(exc)}

    def op_warm(self, mode: str, client: str, workload: str, ops: int) -> Json:
        self.op_round(mode, client, workload, ops)
        return {}

    def op_round(self, mode: str, client: str, workload: str, ops: int) -> Json:
        check = wl.checker(workload, self.chunks, self.dim)
        gc.collect()
        try:
            if mode == "sync":
                once = self.sync[client, workload].once
                last: object = None
                t0 = time.perf_counter()
                for _ in range(ops):
                    last = once()
                elapsed = time.perf_counter() - t0
            else:
                adapter = self.seq[client, workload]
                elapsed, last = self.loop.run_until_complete(_sequential(adapter, ops))
        except Exception as exc:
            return {"elapsed": None, "error": describe_error(exc)}
        return {"elapsed": elapsed, "error": check(last)}

    def op_close(self, mode: str, client: str, workload: str) -> Json:
        try:
            if mode == "sync":
                self.sync.pop((client, workload)).close()
            elif (client, workload) in self.seq:
                self.loop.run_until_complete(self.seq.pop((client, workload)).close())
        except Exception as exc:
            return {"error": describe_error(exc)}
        return {"error": None}

    def op_concurrent(self, client: str, workload: str, n: int, concurrency: int) -> Json:
        """A fresh client on a fresh loop; `bad` counts results that differ from the expected."""
        check = wl.checker(workload, self.chunks, self.dim)
        gc.collect()
        try:
            elapsed, results = asyncio.run(_concurrent(client, workload, self.base, n, concurrency))
        except Exception as exc:
            return {"elapsed": None, "bad": n, "error": describe_error(exc)}
        return {"elapsed": elapsed, "bad": sum(1 for x in results if check(x)), "error": None}

    def op_compat(self, client: str) -> Json:
        """What the library returns when a server sends TEI's flat `[{label, score}, ...]`."""
        try:
            adapter = sync_clients.LibClassify(client, self.base, srv.CLASSIFY_FLAT)
            got = adapter.once()
            adapter.close()
        except Exception as exc:
            return {"result": describe_error(exc)}
        return {"result": "all labels" if got == wl.expected_labels() else f"only {got!r}"}

    def op_versions(self, names: list[str]) -> Json:
        return {"versions": versions(names), "python": sys.version.split()[0]}

    def close(self) -> None:
        for client, workload in list(self.sync):
            self.op_close("sync", client, workload)
        for client, workload in list(self.seq):
            self.op_close("seq", client, workload)
        if self._loop is not None:
            self._loop.close()


async def _sequential(adapter: wl.AsyncAdapter, ops: int) -> tuple[float, object]:
    once = adapter.once
    last: object = None
    t0 = time.perf_counter()
    for _ in range(ops):
        last = await once()
    return time.perf_counter() - t0, last


async def _concurrent(
    client: str, workload: str, base: str, n: int, concurrency: int
) -> tuple[float, list[object]]:
    adapter = await async_clients.make(client, workload, base, concurrency)
    try:
        t0 = time.perf_counter()
        results = await wl.run_concurrent(adapter, n, concurrency)
        elapsed = time.perf_counter() - t0
    finally:
        await adapter.close()
    return elapsed, results


class Remote:
    """A worker process (this file) run by another venv's python; `call` as `Local.call`."""

    def __init__(self, python: str, base: str, chunks: int, dim: int) -> None:
        cmd = [python, str(HERE / "runners.py"), base, str(chunks), str(dim)]
        self.python = python
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, op: str, **kw: Any) -> Json:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker ({self.python}) exited: {self.proc.wait()}")
        reply: Json = json.loads(line)
        if "exception" in reply:
            raise RuntimeError(f"worker: {reply['exception']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def worker() -> None:
    """Serve `Remote`: replies on the original stdout; anything a library prints goes to stderr."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    local = Local(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                reply = local.call(request.pop("op"), **request)
            except Exception as exc:
                reply = {"exception": describe_error(exc)}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    finally:
        local.close()


if __name__ == "__main__":
    worker()
