"""Import time and memory, each in fresh interpreters (huggingface_hub 0.26's in its own venv)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import workloads as wl
from harness import median

HERE = Path(__file__).resolve().parent
IMPORT_SNIPPET = "import time\nt0 = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t0)\n"
MEMORY_CLIENTS = ("hfinfer", "hfinfer_httpx", "aiohttp", "httpx", "hub_old", "hub")
"""The async text_classification clients (openai has no task route, so it is not probed)."""
Json = dict[str, Any]


def python_for(client: str, hub_old_python: str | None) -> str | None:
    if wl.CLIENTS[client].remote:
        return hub_old_python
    return sys.executable


def _importtime_breakdown(stmt: str, baseline: set[str]) -> list[tuple[str, float]]:
    """Self import time (ms) per top-level package, for modules not imported at start-up."""
    proc = subprocess.run(
        [sys.executable, "-I", "-X", "importtime", "-c", stmt],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        return []
    totals: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) != 3 or not line.startswith("import time:"):
            continue
        try:
            self_us = float(parts[0].split(":")[1])
        except ValueError:
            continue
        name = parts[2].strip()
        if name in baseline:
            continue
        top = name.split(".")[0]
        totals[top] = totals.get(top, 0.0) + self_us / 1000
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    return [(k, round(v, 2)) for k, v in ranked[:10]]


def _startup_modules() -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-I", "-X", "importtime", "-c", "pass"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split("|")[2].strip() for line in proc.stderr.splitlines() if line.count("|") == 2}


def measure_imports(runs: int, hub_old_python: str | None) -> Json:
    pythons = {c: python_for(c, hub_old_python) for c in wl.IMPORTS}
    keys = [c for c, py in pythons.items() if py is not None]
    per_run: dict[str, list[float]] = {c: [] for c in wl.IMPORTS}
    errors: dict[str, str] = {}
    for c in keys:  # the first run of each compiles bytecode caches; not counted
        first = subprocess.run(
            [str(pythons[c]), "-I", "-c", wl.IMPORTS[c]], capture_output=True, text=True
        )
        if first.returncode:
            errors[c] = first.stderr.strip().splitlines()[-1]
    keys = [c for c in keys if c not in errors]
    for r in range(runs):
        for c in wl.rotation(r, keys):
            proc = subprocess.run(
                [str(pythons[c]), "-I", "-c", IMPORT_SNIPPET.format(stmt=wl.IMPORTS[c])],
                capture_output=True,
                text=True,
                check=True,
            )
            per_run[c].append(float(proc.stdout.strip()) * 1000)
    medians = {c: median(v) for c, v in per_run.items()}
    baseline = _startup_modules()
    return {
        "title": "import time (fresh interpreter, `python -I`)",
        "unit": "ms",
        "statements": wl.IMPORTS,
        "per_run_ms": {c: [round(x, 2) for x in v] for c, v in per_run.items()},
        "median": {c: None if m is None else round(m, 2) for c, m in medians.items()},
        "hfinfer_self_ms_by_package": _importtime_breakdown(wl.IMPORTS["hfinfer"], baseline),
        "httpx_self_ms_by_package": _importtime_breakdown(wl.IMPORTS["httpx"], baseline),
        "errors": errors,
    }


def measure_memory(
    base: str, reps: int, n: int, concurrency: int, hub_old_python: str | None
) -> Json:
    per_rep: dict[str, list[Json]] = {c: [] for c in MEMORY_CLIENTS}
    errors: dict[str, str] = {}
    for c in MEMORY_CLIENTS:
        if python_for(c, hub_old_python) is None:
            errors[c] = "not run: no --hub-old-python"
    for r in range(reps):
        for c in wl.rotation(r, MEMORY_CLIENTS):
            if c in errors:
                continue
            cmd = [str(python_for(c, hub_old_python)), str(HERE / "memprobe.py"), c, base, str(n)]
            cmd += [str(concurrency), "trace" if r == 0 else "notrace"]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                errors[c] = proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"
                continue
            data: Json = json.loads(proc.stdout)
            if not data["ok"]:
                errors[c] = "wrong results"
                continue
            per_rep[c].append(data)

    def med(c: str, field: str) -> float | None:
        values = [d[field] for d in per_rep[c] if d[field] is not None]
        m = median(values)
        return None if m is None else round(m, 2)

    return {
        "title": f"memory of async text_classification ×{n}, concurrency {concurrency}",
        "per_rep": per_rep,
        "peak_rss_mib": {c: med(c, "peak_rss_mib") for c in MEMORY_CLIENTS},
        "rss_after_import_mib": {c: med(c, "rss_before_mib") for c in MEMORY_CLIENTS},
        "tracemalloc_peak_kib": {c: med(c, "tracemalloc_peak_kib") for c in MEMORY_CLIENTS},
        "errors": errors,
    }
