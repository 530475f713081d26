"""Memory of the async workload for one client, in a fresh process (run by bench/run.py).

`python bench/memprobe.py CLIENT BASE_URL N CONCURRENCY [trace]` prints one JSON line:
- rss_before_mib: resident set after importing the client library (before any request);
- peak_rss_mib: the process's peak resident set (VmHWM) after N requests at CONCURRENCY
  with a fresh client;
- tracemalloc_peak_kib: with `trace`, the peak of Python allocations during a second such run,
  traced (else null).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import tracemalloc

import workloads

MODULES = {"hfinfer": "hfinfer", "huggingface_hub": "huggingface_hub", "httpx": "httpx"}


def status_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process image, from /proc/self/status.

    Not ru_maxrss: after fork+exec that still holds the parent's peak.
    """
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


async def one_run(client: str, base: str, n: int, concurrency: int) -> int:
    adapter = await workloads.ASYNC_FACTORIES[client](base)
    try:
        results = await workloads.run_concurrent(adapter, n, concurrency)
    finally:
        await adapter.close()
    expected = workloads.expected_labels()
    return sum(1 for r in results if r == expected)


def main() -> None:
    client, base, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    trace = sys.argv[5:6] == ["trace"]
    importlib.import_module(MODULES[client])
    rss_before = status_mib("VmRSS")
    ok = asyncio.run(one_run(client, base, n, concurrency))
    peak = status_mib("VmHWM")
    ok2, traced_kib = n, None
    if trace:
        tracemalloc.start()
        ok2 = asyncio.run(one_run(client, base, n, concurrency))
        traced_kib = round(tracemalloc.get_traced_memory()[1] / 1024, 1)
        tracemalloc.stop()
    print(
        json.dumps(
            {
                "client": client,
                "ok": ok == n and ok2 == n,
                "rss_before_mib": round(rss_before, 2),
                "peak_rss_mib": round(peak, 2),
                "tracemalloc_peak_kib": traced_kib,
            }
        )
    )


if __name__ == "__main__":
    main()
