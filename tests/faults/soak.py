"""Soak: many calls on every engine, against the fault server with a share of random faults.

    python -m tests.faults.soak --calls 10000 --fault-rate 0.1 --concurrency 16 --seed 1

Runs `--calls` calls on one `InferenceClient` (httpx's own transport), then `--calls` calls on one
`AsyncInferenceClient` shared by `--concurrency` tasks for each async engine (aiohttp, the
default; then httpx's own), one phase per flavour (`--flavours` picks some). Calls are a seeded mix of plain JSON calls (text_classification)
and streamed chat calls; about `--fault-rate` of them hit a fault: a reset before the response,
a 500, a 503 "loading" or a 429 once (each must end in success after a retry or wait), a truncated
body or a mid-stream reset (each must end in a typed error). It prints a JSON summary and exits
non-zero on any untyped exception, wrong result, unexpected outcome, leaked connection (server
side, after the clients are closed) or memory growth (RSS at 100% vs 10% of a phase, > 20 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import random
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hfinfer._retry
from hfinfer import InferenceClient, InferenceError

from .calls import FLAVOURS, Call, Flavour, Outcome, async_call, make_async_client, sync_call
from .faultserver import CHAT_TOKENS, TOKEN, FaultServer

MEMORY_GROWTH_LIMIT = 20 * 2**20
SAMPLE_POINTS = (0.1, 0.5, 1.0)
TIMEOUT = 10.0
MAX_RETRIES = 2

# Fault name, times (None: every request), and whether the call must still succeed.
FAULTS: dict[Call, list[tuple[str, int | None, bool]]] = {
    "classify": [
        ("reset", 1, True),
        ("e500", 1, True),
        ("loading", 1, True),
        ("r429", 1, True),
        ("truncated", None, False),
    ],
    "chat": [
        ("reset", 1, True),
        ("e500", 1, True),
        ("loading", 1, True),
        ("r429", 1, True),
        ("truncated", None, False),
        ("midreset", None, False),
    ],
}


@dataclass(frozen=True)
class Planned:
    call: Call
    fault: str | None
    times: int | None
    must_succeed: bool


def plan(calls: int, fault_rate: float, rng: random.Random) -> list[Planned]:
    out: list[Planned] = []
    for _ in range(calls):
        call: Call = "chat" if rng.random() < 0.5 else "classify"
        if rng.random() < fault_rate:
            fault, times, must_succeed = rng.choice(FAULTS[call])
            out.append(Planned(call, fault, times, must_succeed))
        else:
            out.append(Planned(call, None, None, True))
    return out


def rss() -> int:
    """Current resident set size in bytes (peak RSS where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _sample() -> int:
    gc.collect()
    return rss()


@contextlib.contextmanager
def fast_waits() -> Iterator[None]:
    """Immediate retries and 10 ms model-loading waits, as in the fault tests."""
    saved = hfinfer._retry.backoff, hfinfer._retry.MAX_LOADING_WAIT
    hfinfer._retry.backoff = lambda retry: 0.0
    hfinfer._retry.MAX_LOADING_WAIT = 0.01
    try:
        yield
    finally:
        hfinfer._retry.backoff, hfinfer._retry.MAX_LOADING_WAIT = saved


class Tally:
    """Outcomes of one phase."""

    def __init__(self) -> None:
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.unexpected: collections.Counter[str] = collections.Counter()
        self.untyped: list[str] = []
        self.wrong: list[str] = []
        self.faults = 0

    def add(self, item: Planned, outcome: Outcome) -> None:
        if item.fault is not None:
            self.faults += 1
        label = f"{item.fault or 'ok'}/{item.call}"
        error = outcome.error
        if error is None:
            self.outcomes["success"] += 1
            if not _right(item.call, outcome.value):
                self.wrong.append(f"{label}: {outcome.value!r}"[:300])
            return
        name = type(error).__name__
        if not isinstance(error, InferenceError):
            self.outcomes[f"UNTYPED {name}"] += 1
            self.untyped.append(f"{label}: {name}: {error}"[:300])
            return
        self.outcomes[name] += 1
        if item.must_succeed:
            self.unexpected[f"{label} -> {name}"] += 1


def _right(call: Call, value: Any) -> bool:
    if call == "chat":
        return bool(value == [TOKEN] * CHAT_TOKENS)
    try:
        return [(e.label, e.score) for e in value] == [("POSITIVE", 0.9)]
    except (TypeError, AttributeError):
        return False


def _model(server: FaultServer, item: Planned, index: int, flavour: Flavour) -> str:
    if item.fault is None:
        return server.model_url("ok", key="ok")
    return server.model_url(item.fault, times=item.times, key=f"{flavour}{index}")


def _checkpoints(calls: int) -> list[int]:
    return [max(1, round(calls * p)) for p in SAMPLE_POINTS]


def run_sync(server: FaultServer, items: list[Planned], tally: Tally) -> list[int]:
    samples: list[int] = []
    marks = _checkpoints(len(items))
    client = InferenceClient(token=False, timeout=TIMEOUT, max_retries=MAX_RETRIES)
    try:
        for index, item in enumerate(items, 1):
            tally.add(item, sync_call(client, item.call, _model(server, item, index, "sync")))
            if index in marks:
                samples.append(_sample())
    finally:
        client.close()
    return samples


async def run_async(
    server: FaultServer, items: list[Planned], tally: Tally, concurrency: int, flavour: Flavour
) -> list[int]:
    samples: list[int] = []
    marks = set(_checkpoints(len(items)))
    queue = iter(enumerate(items, 1))
    done = 0
    client = make_async_client(flavour, token=False, timeout=TIMEOUT, max_retries=MAX_RETRIES)

    async def worker() -> None:
        nonlocal done
        for index, item in queue:
            outcome = await async_call(client, item.call, _model(server, item, index, flavour))
            tally.add(item, outcome)
            done += 1
            if done in marks:
                samples.append(_sample())

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await client.close()
    return samples


def _mb(value: float) -> float:
    return round(value / 2**20, 1)


def run(
    calls: int = 10_000,
    fault_rate: float = 0.1,
    concurrency: int = 16,
    seed: int = 1,
    flavours: tuple[Flavour, ...] = FLAVOURS,
) -> dict[str, Any]:
    """Run the soak; return the summary (its "ok" is False when an invariant broke)."""
    rng = random.Random(seed)
    phases: dict[str, Any] = {}
    problems: list[str] = []
    started = time.monotonic()
    with FaultServer() as server, fast_waits():
        for flavour in flavours:
            items = plan(calls, fault_rate, rng)
            tally = Tally()
            server.reset_max_open()
            served_before = collections.Counter(server.faults)
            t0 = time.monotonic()
            if flavour == "sync":
                samples = run_sync(server, items, tally)
            else:
                samples = asyncio.run(run_async(server, items, tally, concurrency, flavour))
            wall = time.monotonic() - t0
            leaked = server.wait_open(0, timeout=10.0)
            growth = samples[-1] - samples[0] if samples else 0
            served = collections.Counter(server.faults)
            served.subtract(served_before)
            phases[flavour] = {
                "calls": len(items),
                "faults_planned": tally.faults,
                "faults_served": dict(sorted((+served).items())),
                "outcomes": dict(sorted(tally.outcomes.items())),
                "unexpected": dict(sorted(tally.unexpected.items())),
                "untyped": tally.untyped[:20],
                "wrong_results": tally.wrong[:20],
                "leaked_connections": leaked,
                "max_open_connections": server.max_open,
                "rss_mb_at_10_50_100": [_mb(s) for s in samples],
                "rss_growth_mb": _mb(growth),
                "wall_time_s": round(wall, 2),
                "calls_per_s": round(len(items) / wall, 1) if wall else None,
            }
            if tally.untyped:
                problems.append(f"{flavour}: {len(tally.untyped)} untyped exception(s)")
            if tally.wrong:
                problems.append(f"{flavour}: {len(tally.wrong)} wrong result(s)")
            if tally.unexpected:
                problems.append(f"{flavour}: {sum(tally.unexpected.values())} unexpected error(s)")
            if leaked:
                problems.append(f"{flavour}: {leaked} connection(s) left open")
            if growth > MEMORY_GROWTH_LIMIT:
                problems.append(f"{flavour}: RSS grew by {_mb(growth)} MB")
        accepted = server.accepted
        if server.errors:
            problems.append(f"fault server errors: {server.errors[:5]}")
    return {
        "ok": not problems,
        "problems": problems,
        "calls": len(flavours) * calls,
        "faults_injected": sum(p["faults_planned"] for p in phases.values()),
        "leaked_connections": sum(p["leaked_connections"] for p in phases.values()),
        "connections_accepted": accepted,
        "peak_rss_mb": _mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        "wall_time_s": round(time.monotonic() - started, 2),
        "settings": {
            "calls_per_flavour": calls,
            "fault_rate": fault_rate,
            "concurrency": concurrency,
            "seed": seed,
            "flavours": list(flavours),
        },
        "phases": phases,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.soak", description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000, help="calls per flavour")
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=16, help="async tasks")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--flavours",
        default=",".join(FLAVOURS),
        help=f"comma-separated, among {', '.join(FLAVOURS)} (default: all)",
    )
    args = parser.parse_args(argv)
    flavours = tuple(f.strip() for f in args.flavours.split(",") if f.strip())
    unknown = [f for f in flavours if f not in FLAVOURS]
    if unknown or not flavours:
        parser.error(f"unknown flavour(s) {unknown}: choose among {', '.join(FLAVOURS)}")
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        os.environ.pop(name, None)  # loopback calls must not go through a proxy
    summary = run(args.calls, args.fault_rate, args.concurrency, args.seed, flavours)  # type: ignore[arg-type]
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
