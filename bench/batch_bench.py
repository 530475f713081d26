"""Benchmark of `hfinfer batch` (issue 12): rows/s against a loopback server with a fixed delay.

    python bench/batch_bench.py [--rows 20000] [--delay 0.02] [--concurrency 64]
                                [--rss-rows 1000000] [--ray]

Measures, each against a server in its own process (aiohttp, 127.0.0.1, `--delay` s per answer):
- `hfinfer batch feature_extraction` (a subprocess, as a user runs it) at `--concurrency`;
- a bare aiohttp loop with the same number in flight (the ceiling of one process);
- the ideal, concurrency / delay;
- peak RSS of `hfinfer batch` on `--rss-rows` rows and on a tenth of them (flat = about equal);
- with `--ray`, the Ray Data stage's rows/s on 2 local actors (needs `hfinfer[ray]`).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _serve(port_out: Any, delay: float) -> None:
    from aiohttp import web

    async def embed(request: web.Request) -> web.Response:
        body = await request.json()
        if delay:
            await asyncio.sleep(delay)
        return web.json_response([[float(len(body["inputs"])), 1.0]])

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/embed", embed)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_out.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _write_input(path: Path, rows: int) -> None:
    with path.open("w") as handle:
        for i in range(rows):
            handle.write(json.dumps({"text": f"row number {i}"}) + "\n")


def _hfinfer_batch(url: str, src: Path, out: Path, concurrency: int) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one `hfinfer batch` run, in a child process."""
    command = [
        sys.executable, "-m", "hfinfer", "batch", "feature_extraction", str(src), str(out),
        "--model", f"{url}/embed", "--concurrency", str(concurrency), "--quiet",
    ]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    return seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


async def _bare_aiohttp(url: str, rows: int, concurrency: int) -> float:
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


def _ray_stage(url: str, rows: int, concurrency: int, folder: Path) -> float:
    import os

    os.environ.update({"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"})
    import ray
    import ray.data

    from hfinfer.ray import inference_stage

    ray.init(num_cpus=4, include_dashboard=False, _temp_dir=str(folder / "ray"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rss-rows", type=int, default=1_000_000)
    parser.add_argument("--ray", action="store_true")
    args = parser.parse_args()
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ports, args.delay), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}"
    results: dict[str, Any] = {"rows": args.rows, "delay_s": args.delay}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            src = folder / "in.jsonl"
            _write_input(src, args.rows)
            seconds, _ = _hfinfer_batch(url, src, folder / "out.jsonl", args.concurrency)
            bare = asyncio.run(_bare_aiohttp(url, args.rows, args.concurrency))
            ideal = args.concurrency / args.delay if args.delay else None
            hf_rate, bare_rate = args.rows / seconds, args.rows / bare
            results.update(
                hfinfer_rows_per_s=round(hf_rate, 1),
                bare_aiohttp_rows_per_s=round(bare_rate, 1),
                ratio_vs_bare=round(hf_rate / bare_rate, 3),
                ideal_rows_per_s=ideal,
                ratio_vs_ideal=round(hf_rate / ideal, 3) if ideal else None,
            )
            if args.ray:
                ray_seconds = _ray_stage(url, args.rows, args.concurrency, folder)
                results["ray_2_actors_rows_per_s"] = round(args.rows / ray_seconds, 1)
        if args.rss_rows:
            server.terminate()
            server.join()
            server = multiprocessing.Process(target=_serve, args=(ports, 0.0), daemon=True)
            server.start()
            url = f"http://127.0.0.1:{ports.get(timeout=30)}"
            for rows in (args.rss_rows // 10, args.rss_rows):
                with tempfile.TemporaryDirectory() as tmp:
                    src = Path(tmp) / "in.jsonl"
                    _write_input(src, rows)
                    # RUSAGE_CHILDREN is the peak over all children so far: a separate process.
                    probe = subprocess.run(
                        [sys.executable, __file__, "--_rss", url, str(src), str(args.concurrency)],
                        check=True, capture_output=True, text=True,
                    )  # fmt: skip
                    results[f"peak_rss_mib_{rows}_rows"] = json.loads(probe.stdout)["rss"]
    finally:
        server.terminate()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--_rss":
        _, _, url_, src_, conc = sys.argv
        _, rss = _hfinfer_batch(url_, Path(src_), Path(src_).with_name("out.jsonl"), int(conc))
        print(json.dumps({"rss": round(rss, 1)}))
    else:
        main()
