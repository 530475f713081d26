"""The server process, its capacity, and the interleaved rounds of every workload."""

from __future__ import annotations

import http.client
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import loadgen
import server as srv
import workloads as wl
from runners import Local, Remote

HERE = Path(__file__).resolve().parent
STATUS_OK = 200
Json = dict[str, Any]


class Server:
    """bench/server.py in a subprocess; it also stops by itself when our stdin pipe closes."""

    def __init__(self, chunks: int, dim: int, cpu: int | None) -> None:
        cmd = [sys.executable, str(HERE / "server.py"), "--chunks", str(chunks), "--dim", str(dim)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the benchmark server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def _control(self, method: str, path: str) -> dict[str, int]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != STATUS_OK:
                raise RuntimeError(f"{path}: HTTP {resp.status}")
            data: dict[str, int] = json.loads(body)
            return data
        finally:
            conn.close()

    def reset(self) -> None:
        self._control("POST", srv.RESET)

    def stats(self) -> dict[str, int]:
        return self._control("GET", srv.STATS)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def measure_capacity(server: Server, chunks: int, dim: int, seconds: float) -> Json:
    routes = srv.build_routes(chunks, dim)
    classify_req = loadgen.request_bytes(srv.CLASSIFY, b'{"inputs":"I love this"}')
    classify_len = len(routes[(b"POST", srv.CLASSIFY.encode())])
    stream_req = loadgen.request_bytes(srv.CHAT_STREAM, b'{"model":"tgi","messages":[]}')
    stream_len = len(routes[(b"POST", srv.CHAT_STREAM.encode())])
    # Warm-up, then the measurements.
    loadgen.measure(server.port, classify_req, classify_len, sockets=4, seconds=0.3)
    rr = loadgen.measure(server.port, classify_req, classify_len, sockets=16, seconds=seconds)
    piped = loadgen.measure(
        server.port, classify_req, classify_len, sockets=8, depth=32, seconds=seconds
    )
    stream = loadgen.measure(server.port, stream_req, stream_len, sockets=4, seconds=seconds)
    return {
        "route": srv.CLASSIFY,
        "request_response": rr.to_json(),
        "pipelined": piped.to_json(),
        "stream": {**stream.to_json(), "chunks_per_s": round(stream.per_second * chunks, 1)},
        "note": "raw keep-alive sockets, pre-encoded requests, responses counted by length",
    }


class Runners:
    """Which runner serves each client: this process, or the huggingface_hub 0.26 worker."""

    def __init__(self, server: Server, chunks: int, dim: int, hub_old_python: str | None) -> None:
        self.local = Local(server.base, chunks, dim)
        self.remote: Remote | None = None
        self.remote_error: str | None = None
        if hub_old_python is None:
            self.remote_error = "not run: no --hub-old-python (the bench session sets it)"
        else:
            try:
                self.remote = Remote(hub_old_python, server.base, chunks, dim)
                self.remote.call("versions", names=[])
            except Exception as exc:
                self.remote_error = f"its worker did not start: {exc}"
                self.remote = None

    def get(self, client: str) -> Local | Remote | None:
        return self.remote if wl.CLIENTS[client].remote else self.local

    def unavailable(self, client: str) -> str | None:
        return self.remote_error if wl.CLIENTS[client].remote and self.remote is None else None

    def close(self) -> None:
        self.local.close()
        if self.remote is not None:
            self.remote.close()


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


SLICES = 10
"""A round of a persistent-client workload is cut into this many slices, clients interleaved."""


def slices(ops: int) -> list[int]:
    """`ops` in up to SLICES near-equal parts."""
    k = min(ops, SLICES)
    return [ops // k + (1 if i < ops % k else 0) for i in range(k)]


def run_spec(spec: wl.Spec, runners: Runners, server: Server, rounds: int) -> Json:
    """Sync and one-at-a-time async: persistent clients, checked, warmed up, rounds rotated.

    Each round is cut into slices (100 calls, or one stream, each); in every slice each client
    takes its turn, in an order rotated per slice, so that a burst of load from elsewhere on a
    shared machine falls on all the clients alike. A client's round is the sum of its slices.
    """
    errors: dict[str, str] = {}
    opened: list[str] = []
    args = {"mode": spec.mode, "workload": spec.workload}
    for c in spec.clients:
        runner = runners.get(c)
        if runner is None:
            errors[c] = runners.unavailable(c) or "unavailable"
            continue
        opened.append(c)
        err = runner.call("open", client=c, **args)["error"]
        if err:
            errors[c] = err
    for c in opened:
        if c not in errors:
            _runner(runners, c).call("warm", client=c, ops=max(1, spec.ops // 10), **args)
    per_round: dict[str, list[float]] = {c: [] for c in spec.clients}
    conns: dict[str, list[int]] = {c: [] for c in spec.clients}
    reqs: dict[str, list[int]] = {c: [] for c in spec.clients}
    sizes = slices(spec.ops)
    for r in range(rounds):
        elapsed = dict.fromkeys(spec.clients, 0.0)
        round_conns = dict.fromkeys(spec.clients, 0)
        round_reqs = dict.fromkeys(spec.clients, 0)
        for s, size in enumerate(sizes):
            for c in wl.rotation(r * len(sizes) + s, spec.clients):
                if c in errors:
                    continue
                server.reset()
                reply = _runner(runners, c).call("round", client=c, ops=size, **args)
                stats = server.stats()
                if reply["error"]:
                    errors[c] = f"round {r + 1}: {reply['error']}"
                    continue
                elapsed[c] += reply["elapsed"]
                round_conns[c] += stats["connections"]
                round_reqs[c] += stats["requests"]
        for c in spec.clients:
            if c not in errors:
                per_round[c].append(spec.ops * spec.units_per_op / elapsed[c])
                conns[c].append(round_conns[c])
                reqs[c].append(round_reqs[c])
    for c in opened:
        _runner(runners, c).call("close", client=c, **args)
    return summarise(spec, per_round, errors, conns, reqs)


def run_concurrent(spec: wl.Spec, runners: Runners, server: Server, rounds: int) -> Json:
    """A fresh client per round, so that the server's count of connections shows its pooling."""
    errors: dict[str, str] = {}
    n, conc = spec.ops, spec.concurrency
    for c in spec.clients:  # the warm-up: every result checked; not timed
        runner = runners.get(c)
        if runner is None:
            errors[c] = runners.unavailable(c) or "unavailable"
            continue
        warm = min(n, conc)  # one wave: the pool fills, every result is checked
        reply = runner.call(
            "concurrent", client=c, workload=spec.workload, n=warm, concurrency=conc
        )
        if reply["error"] or reply["bad"]:
            errors[c] = reply["error"] or f"{reply['bad']} of {warm} results differ"
    per_round: dict[str, list[float]] = {c: [] for c in spec.clients}
    conns: dict[str, list[int]] = {c: [] for c in spec.clients}
    reqs: dict[str, list[int]] = {c: [] for c in spec.clients}
    max_open: dict[str, list[int]] = {c: [] for c in spec.clients}
    for r in range(rounds):
        for c in wl.rotation(r, spec.clients):
            if c in errors:
                continue
            server.reset()
            reply = _runner(runners, c).call(
                "concurrent", client=c, workload=spec.workload, n=n, concurrency=conc
            )
            stats = server.stats()
            if reply["error"] or reply["bad"]:
                errors[c] = f"round {r + 1}: " + (reply["error"] or f"{reply['bad']} differ")
                continue
            per_round[c].append(n / reply["elapsed"])
            conns[c].append(stats["connections"])
            reqs[c].append(stats["requests"])
            max_open[c].append(stats["max_open"])
    out = summarise(spec, per_round, errors, conns, reqs)
    out["concurrency"] = conc
    out["connection_limit"] = conc + 1
    out["max_open_connections_per_round"] = max_open
    return out


def _runner(runners: Runners, client: str) -> Local | Remote:
    runner = runners.get(client)
    assert runner is not None
    return runner


def summarise(
    spec: wl.Spec,
    per_round: dict[str, list[float]],
    errors: dict[str, str],
    conns: dict[str, list[int]],
    reqs: dict[str, list[int]],
) -> Json:
    medians = {c: median(v) for c, v in per_round.items()}
    return {
        "title": spec.title,
        "mode": spec.mode,
        "workload": spec.workload,
        "unit": spec.unit,
        "ops_per_round": spec.ops,
        "clients": list(spec.clients),
        "per_round": {c: [round(x, 1) for x in v] for c, v in per_round.items()},
        "median": {c: None if m is None else round(m, 1) for c, m in medians.items()},
        "connections_per_round": conns,
        "requests_per_round": reqs,
        "errors": errors,
    }
