"""Memory of the async workload for one client, in a fresh process (run by bench/run.py).

`python bench/memprobe.py CLIENT BASE_URL N CONCURRENCY [trace]` (CLIENT: a key of
workloads.CLIENTS; huggingface_hub 0.26's is run with its venv's python) prints one JSON line:
- rss_before_mib: resident set after importing the client library (before any request; the
  aiohttp engine, and aiohttp in huggingface_hub 0.26, are imported only by the first request);
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

import async_clients
import workloads as wl


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
    adapter = await async_clients.make(client, "text_classification", base, concurrency)
    try:
        results = await wl.run_concurrent(adapter, n, concurrency)
    finally:
        await adapter.close()
    expected = wl.expected_labels()
    return sum(1 for r in results if r == expected)


def main() -> None:
    client, base, n, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    trace = sys.argv[5:6] == ["trace"]
    importlib.import_module(wl.CLIENTS[client].module)
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
