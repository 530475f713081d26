"""Run in a fresh interpreter: one `text_to_speech` call whose body is huge; print a JSON report.

    python big_body_probe.py {sync|aiohttp|httpx-async} WARMUP_URL BIG_URL

The report has the result's length and sha256 and the growth of the process's peak RSS
(`ru_maxrss`) during the call, so the memory the call needs is measured without the test runner.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import resource
import sys
import time

from hfinfer import AsyncInferenceClient, InferenceClient


def _peak_rss() -> int:
    """Peak resident set size of this process, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _report(result: bytes, before: int, elapsed: float) -> dict[str, object]:
    return {
        "length": len(result),
        "sha256": hashlib.sha256(result).hexdigest(),
        "peak_before": before,
        "peak_delta": _peak_rss() - before,
        "elapsed": elapsed,
    }


def run_sync(warmup: str, big: str) -> dict[str, object]:
    with InferenceClient(token=False, timeout=60, max_retries=0) as client:
        client.text_to_speech("hi", model=warmup)
        before = _peak_rss()
        start = time.monotonic()
        result = client.text_to_speech("hi", model=big)
        elapsed = time.monotonic() - start
        return _report(result, before, elapsed)


async def run_async(warmup: str, big: str, engine: str) -> dict[str, object]:
    client = AsyncInferenceClient(token=False, timeout=60, max_retries=0, engine=engine)  # type: ignore[arg-type]
    async with client:
        await client.text_to_speech("hi", model=warmup)
        before = _peak_rss()
        start = time.monotonic()
        result = await client.text_to_speech("hi", model=big)
        elapsed = time.monotonic() - start
        return _report(result, before, elapsed)


def main(argv: list[str]) -> int:
    flavour, warmup, big = argv
    if flavour == "sync":
        report = run_sync(warmup, big)
    else:
        engine = {"aiohttp": "aiohttp", "httpx-async": "httpx"}[flavour]
        report = asyncio.run(run_async(warmup, big, engine))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
