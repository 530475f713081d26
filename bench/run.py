"""Benchmark: hfinfer vs bare httpx, bare aiohttp, huggingface_hub (latest and 0.26) and openai.

Run with `nox -s bench` (`nox -s bench -- --quick` for a short run). It starts bench/server.py
in its own process, measures the server's capacity with a raw-socket load generator, checks every
client's results, then times the workloads in rounds that interleave the clients, and writes
results.json and results.md (default: bench-results/). huggingface_hub 0.26 runs in a second venv
(`--hub-old-python`, which the nox session sets), through bench/runners.py's worker.

Modules: workloads (what is measured), sync_clients / async_clients (the adapters), runners
(in-process and second-venv execution), harness (server, capacity, rounds), measure (import
time, memory), report (targets, overheads, markdown).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import async_clients
import harness
import measure
import report as rep
import workloads as wl
from runners import versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAIN_VERSIONS = [
    "hfinfer",
    "httpx",
    "httpcore",
    "h11",
    "h2",
    "aiohttp",
    "huggingface_hub",
    "httpx2",
    "httpcore2",
    "openai",
    "pydantic",
    "numpy",
    "anyio",
    "sniffio",
]
HUB_OLD_VERSIONS = ["huggingface_hub", "aiohttp", "requests", "urllib3", "numpy"]
Json = dict[str, Any]


def git_revision() -> str | None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "src", "generated")
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("+dirty" if dirty else "")


def machine() -> Json:
    cpu_model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
    }


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5)")
    parser.add_argument("--scale", type=float, default=None, help="multiply the calls per round")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 1 round, --scale 0.2, fewer repeats"
    )
    parser.add_argument("--chunks", type=int, default=2000, help="events per stream")
    parser.add_argument("--dim", type=int, default=384, help="embedding size")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="output folder")
    parser.add_argument("--only", default=None, help="only the workloads whose key contains this")
    parser.add_argument(
        "--hub-old-python", default=None, help="python of the venv with huggingface_hub 0.26"
    )
    parser.add_argument(
        "--pin", action="store_true", help="pin the server to the last CPU, the clients to CPU 0"
    )
    args = parser.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.scale = args.scale or (0.2 if args.quick else 1.0)
    return args


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    load_before = loadavg()
    server_cpu = None
    if args.pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        server_cpu = (os.cpu_count() or 2) - 1
        os.sched_setaffinity(0, {0})
    specs = wl.build_specs(args.scale, args.chunks, args.dim)
    if args.only:
        specs = [s for s in specs if args.only in s.key]
    has_engines = "engine" in async_clients.hfinfer_async_params()
    report: Json = {
        "machine": machine(),
        "versions": versions(MAIN_VERSIONS),
        "hfinfer_revision": git_revision(),
        "hfinfer_async_engines": "aiohttp, httpx" if has_engines else "none (no engine= yet)",
        "rounds": args.rounds,
        "scale": args.scale,
        "pinned": server_cpu is not None,
        "loadavg_before": load_before,
        "workloads": {},
    }
    server = harness.Server(args.chunks, args.dim, server_cpu)
    runners = harness.Runners(server, args.chunks, args.dim, args.hub_old_python)
    hub_old_python = args.hub_old_python if runners.remote is not None else None
    try:
        if runners.remote is not None:
            reply = runners.remote.call("versions", names=HUB_OLD_VERSIONS)
            report["hub_old_versions"] = {**reply["versions"], "python": reply["python"]}
        print(f"server on {server.base}; measuring its capacity…", flush=True)
        seconds = 0.5 if args.quick else 1.5
        report["server_capacity"] = harness.measure_capacity(server, args.chunks, args.dim, seconds)
        print(json.dumps(report["server_capacity"]), flush=True)
        compat: Json = {}
        for c in ("hfinfer", "hub_old", "hub"):
            runner = runners.get(c)
            if runner is not None:
                compat[c] = runner.call("compat", client=c)["result"]
        report["compat_flat_text_classification"] = compat
        for spec in specs:
            t0 = time.perf_counter()
            run = harness.run_concurrent if spec.mode == "concurrent" else harness.run_spec
            result = run(spec, runners, server, args.rounds)
            report["workloads"][spec.key] = result
            print(
                f"{spec.title}: {result['median']} {spec.unit} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        t0 = time.perf_counter()
        report["import_time"] = measure.measure_imports(5 if args.quick else 11, hub_old_python)
        print(f"import: {report['import_time']['median']} ms ({time.perf_counter() - t0:.0f} s)")
        t0 = time.perf_counter()
        n = max(1, round(500 * args.scale))
        report["memory"] = measure.measure_memory(
            server.base, 1 if args.quick else 3, n, 64, hub_old_python
        )
        print(
            f"memory: peak RSS {report['memory']['peak_rss_mib']} MiB "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    finally:
        runners.close()
        server.stop()
    report["loadavg_after"] = loadavg()
    report["duration_s"] = round(time.perf_counter() - started, 1)
    report["targets"] = rep.compute_targets(report)
    report["overheads"] = rep.compute_overheads(report)
    report["notes"] = rep.collect_notes(report)
    if not has_engines:
        report["notes"].insert(
            0,
            "hfinfer.AsyncInferenceClient has no engine= parameter in this checkout: its async "
            "rows are hfinfer's own transport, and engine=httpx is not measured.",
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    table = rep.markdown(report)
    (args.out / "results.md").write_text(table)
    print()
    print(table)
    print(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")


if __name__ == "__main__":
    main()
