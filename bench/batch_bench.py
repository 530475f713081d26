"""Benchmark of `hfinfer batch` (issue 12): rows/s against a loopback server with a fixed delay.

    nox -s bench -- --batch [--rows 20000] [--delay 0.02] [--concurrency 64] [--rounds 3]
                            [--workers 1,2] [--rss-rows 1000000] [--ray]
    (or: python bench/batch_bench.py …; `--ray` needs `hfinfer[ray]`: .nox/ray/bin/python)

Measures, against a server in its own process (asyncio Protocol on 127.0.0.1, `--delay` s per
answer, the answer computed from the request: `[[len(inputs), 1.0]]`):
- `hfinfer batch feature_extraction` at `--concurrency`, a subprocess as a user runs it, once
  per `--workers` value (1: one process; 2: two sending processes sharing the concurrency):
  rows/s over the whole command (start-up included) and over the job alone (the summary's
  seconds), the summary's p50/p95 latency;
- a bare aiohttp loop with the same number in flight, in a subprocess of its own (the ceiling of
  one process): rows/s of the loop;
- the ideal, concurrency / delay;
- CPU per row of each client and of the server (the server's own count), so that a server that
  is the bottleneck shows (its CPU per second of wall time near 1);
- peak RSS of `hfinfer batch` on `--rss-rows` rows and on a tenth of them (flat = about equal);
- with `--ray`, the Ray Data stage's rows/s on 2 local actors.

The two clients alternate in `--rounds` rounds (A,B then B,A…); medians are reported. Every row
of every hfinfer output is checked. Prints one JSON object and writes it to
bench-results/batch.json (`--out`).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


class _Delayed(asyncio.Protocol):
    """HTTP/1.1 keep-alive: each POST answered after `delay`, in order; GET /__stats__ at once."""

    def __init__(self, delay: float, stats: dict[str, float]) -> None:
        self.delay, self.stats = delay, stats
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[list[bytes | None]] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        while (end := buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(buf[:end]).lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop >= 0 else len(head)])
            if len(buf) < end + 4 + length:
                return
            body = bytes(buf[end + 4 : end + 4 + length])
            del buf[: end + 4 + length]
            if head.startswith(b"get /__stats__"):
                usage = resource.getrusage(resource.RUSAGE_SELF)
                self.stats["cpu_s"] = usage.ru_utime + usage.ru_stime
                self.pending.append([_response(json.dumps(self.stats).encode())])
                self._flush()
                continue
            self.stats["requests"] += 1
            slot: list[bytes | None] = [None]
            self.pending.append(slot)
            answer = _response(b"[[%d.0,1.0]]" % len(json.loads(body)["inputs"]))
            asyncio.get_running_loop().call_later(self.delay, self._ready, slot, answer)

    def _ready(self, slot: list[bytes | None], answer: bytes) -> None:
        slot[0] = answer
        self._flush()

    def _flush(self) -> None:
        ready: list[bytes] = []
        while self.pending and self.pending[0][0] is not None:
            answer = self.pending.popleft()[0]
            assert answer is not None
            ready.append(answer)
        if ready and self.transport is not None:
            self.transport.write(b"".join(ready))


def _response(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


def _serve(port_out: Any, delay: float) -> None:
    async def main() -> None:
        stats = {"requests": 0.0, "cpu_s": 0.0}
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: _Delayed(delay, stats), "127.0.0.1", 0, backlog=1024
        )
        port_out.put(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


def _server_stats(url: str) -> dict[str, float]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/__stats__", timeout=10) as answer:  # 127.0.0.1 only
        return dict(json.loads(answer.read()))


def _write_input(path: Path, rows: int) -> None:
    with path.open("w") as handle:
        for i in range(rows):
            handle.write(json.dumps({"text": f"row number {i}"}) + "\n")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _hfinfer_batch(
    url: str, src: Path, out: Path, concurrency: int, workers: int = 1
) -> dict[str, float]:
    """One `hfinfer batch` run in a child process: wall and job seconds, CPU seconds (its
    worker processes included), the latency percentiles of its summary."""
    command = [
        sys.executable, "-m", "hfinfer", "batch", "feature_extraction", str(src), str(out),
        "--model", f"{url}/embed", "--concurrency", str(concurrency), "--quiet",
        "--workers", str(workers),
    ]  # fmt: skip
    cpu = _children_cpu()
    started = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - started
    summary = json.loads((out.parent / (out.name + ".hfinfer") / "manifest.json").read_text())[
        "summary"
    ]
    return {
        "wall_s": wall,
        "job_s": summary["seconds"],
        "cpu_s": _children_cpu() - cpu,
        "p50_ms": summary["p50_ms"],
        "p95_ms": summary["p95_ms"],
    }


def _check(out: Path, rows: int) -> None:
    seen = 0
    with out.open() as handle:
        for line in handle:
            record = json.loads(line)
            expected = [[float(len(f"row number {record['id']}")), 1.0]]
            if record["error"] is not None or record["output"] != expected:
                raise SystemExit(f"wrong result for row {record['id']}: {record}")
            seen += 1
    if seen != rows:
        raise SystemExit(f"{seen} result lines for {rows} rows")


async def _bare_loop(url: str, rows: int, concurrency: int) -> float:
    import aiohttp

    texts = iter(f"row number {i}" for i in range(rows))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for text in texts:
                async with session.post(f"{url}/embed", json={"inputs": text}) as response:
                    await response.json()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


def _bare(url: str, rows: int, concurrency: int) -> dict[str, float]:
    """The bare aiohttp loop in a child process: the loop's seconds, the child's CPU seconds."""
    cpu = _children_cpu()
    command = [sys.executable, __file__, "--_bare", url, str(rows), str(concurrency)]
    probe = subprocess.run(command, check=True, capture_output=True, text=True)
    return {"wall_s": json.loads(probe.stdout)["seconds"], "cpu_s": _children_cpu() - cpu}


def _startup(url: str, folder: Path) -> float:
    """Seconds of `hfinfer batch` on one row: the fixed cost in the whole-command figure."""
    src = folder / "one.jsonl"
    _write_input(src, 1)
    out = folder / "one-out.jsonl"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "hfinfer", "batch", "feature_extraction", str(src), str(out),
         "--model", f"{url}/embed", "--quiet"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def _ray_stage(url: str, rows: int, concurrency: int, folder: Path) -> float:
    # As the Ray tests: loopback only, Ray's files (its HOME and temp folder) in the bench's own.
    os.environ.update(
        {
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
            "HOME": str(folder),
        }
    )
    import ray
    import ray.data

    from hfinfer.ray import inference_stage

    ray.init(
        num_cpus=4,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(folder / "ray"),
        log_to_driver=False,
    )
    try:
        ds = ray.data.from_items(
            [{"key": i, "text": f"row number {i}"} for i in range(rows)], override_num_blocks=16
        )
        started = time.perf_counter()
        staged = inference_stage(
            ds, "feature_extraction", model=f"{url}/embed", actors=2, concurrency=concurrency
        )
        count = staged.count()
        assert count == rows
        return time.perf_counter() - started
    finally:
        ray.shutdown()


def _start_server(delay: float) -> tuple[multiprocessing.Process, str]:
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports, delay), daemon=True)
    server.start()
    return server, f"http://127.0.0.1:{ports.get(timeout=30)}"


def _rounds(args: argparse.Namespace, url: str, folder: Path) -> dict[str, Any]:
    src = folder / "in.jsonl"
    _write_input(src, args.rows)
    clients = [f"hfinfer_w{w}" for w in args.workers] + ["bare"]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in clients}
    server_cpu: list[float] = []
    for n in range(args.rounds):
        for which in clients if n % 2 == 0 else clients[::-1]:
            before = _server_stats(url)
            if which == "bare":
                runs[which].append(_bare(url, args.rows, args.concurrency))
            else:
                out = folder / f"out-{which}-{n}.jsonl"
                workers = int(which.removeprefix("hfinfer_w"))
                runs[which].append(_hfinfer_batch(url, src, out, args.concurrency, workers))
                _check(out, args.rows)
            after = _server_stats(url)
            if after["requests"] - before["requests"] < args.rows:
                raise SystemExit(f"{which}: the server saw fewer requests than rows")
            server_cpu.append((after["cpu_s"] - before["cpu_s"]) / args.rows)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    rows = args.rows
    ideal = args.concurrency / args.delay if args.delay else None
    bare_rate = rows / median("bare", "wall_s")
    results: dict[str, Any] = {
        "bare_aiohttp_rows_per_s": round(bare_rate, 1),
        "bare_ratio_vs_ideal": round(bare_rate / ideal, 3) if ideal else None,
        "bare_cpu_ms_per_row": round(1000 * median("bare", "cpu_s") / rows, 3),
        "ideal_rows_per_s": ideal,
        "server_cpu_ms_per_row": round(1000 * statistics.median(server_cpu), 3),
    }
    for name in clients[:-1]:
        rate, job_rate = rows / median(name, "wall_s"), rows / median(name, "job_s")
        # Rounds on a shared machine vary by ±30 %: the ratio of each round's pair, too.
        paired = [b["wall_s"] / h["job_s"] for h, b in zip(runs[name], runs["bare"], strict=True)]
        results[name] = {
            "rows_per_s": round(rate, 1),
            "job_rows_per_s": round(job_rate, 1),
            "ratio_vs_bare": round(rate / bare_rate, 3),
            "job_ratio_vs_bare": round(job_rate / bare_rate, 3),
            "job_ratio_vs_bare_per_round": [round(r, 3) for r in paired],
            "ratio_vs_ideal": round(rate / ideal, 3) if ideal else None,
            "job_ratio_vs_ideal": round(job_rate / ideal, 3) if ideal else None,
            "cpu_ms_per_row": round(1000 * median(name, "cpu_s") / rows, 3),
            "p50_ms": median(name, "p50_ms"),
            "p95_ms": median(name, "p95_ms"),
        }
    results["hfinfer_startup_s"] = round(_startup(url, folder), 3)
    results["rounds"] = runs
    return results


def _peak_rss(rows_list: list[int], concurrency: int) -> dict[str, float]:
    server, url = _start_server(0.0)
    results = {}
    try:
        for rows in rows_list:
            with tempfile.TemporaryDirectory() as tmp:
                src = Path(tmp) / "in.jsonl"
                _write_input(src, rows)
                # RUSAGE_CHILDREN is the peak over all children so far: a separate process.
                probe = subprocess.run(
                    [sys.executable, __file__, "--_rss", url, str(src), str(concurrency)],
                    check=True, capture_output=True, text=True,
                )  # fmt: skip
                results[f"peak_rss_mib_{rows}_rows"] = json.loads(probe.stdout)["rss"]
                results[f"rows_per_s_{rows}_rows"] = json.loads(probe.stdout)["rows_per_s"]
    finally:
        server.terminate()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers",
        type=lambda text: [int(w) for w in text.split(",")],
        default=[1, 2],
        help="`hfinfer batch --workers` values to run, comma-separated (default 1,2)",
    )
    parser.add_argument("--rss-rows", type=int, default=1_000_000, help="0: no memory probe")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE.parent / "bench-results" / "batch.json")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "rows": args.rows,
        "delay_s": args.delay,
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
    }
    server, url = _start_server(args.delay)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if args.rounds:
                results.update(_rounds(args, url, folder))
            if args.ray:
                ray_seconds = _ray_stage(url, args.rows, args.concurrency, folder)
                results["ray_2_actors_rows_per_s"] = round(args.rows / ray_seconds, 1)
    finally:
        server.terminate()
        server.join()
    if args.rss_rows:
        results.update(_peak_rss([args.rss_rows // 10, args.rss_rows], args.concurrency))
    results["load_after"] = os.getloadavg()
    text = json.dumps(results, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


def _child() -> None:
    if sys.argv[1] == "--_bare":
        url, rows, concurrency = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        print(json.dumps({"seconds": asyncio.run(_bare_loop(url, rows, concurrency))}))
        return
    url, src = sys.argv[2], Path(sys.argv[3])
    out = src.with_name("out.jsonl")
    run = _hfinfer_batch(url, src, out, int(sys.argv[4]))
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rows = sum(1 for _ in out.open())
    print(json.dumps({"rss": round(rss, 1), "rows_per_s": round(rows / run["job_s"], 1)}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] in ("--_rss", "--_bare"):
        _child()
    else:
        main()
