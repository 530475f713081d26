"""Benchmark: hfinfer vs huggingface_hub vs a bare persistent httpx client, on loopback.

Run with `nox -s bench` (or `python bench/run.py` where hfinfer, huggingface_hub and numpy are
installed). It starts bench/server.py in its own process, measures the server's capacity with a
raw-socket load generator, checks every client's results, then times the workloads in rounds that
interleave the clients, and writes results.json and results.md (default: bench-results/).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import http.client
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import loadgen
import server as srv
import workloads as wl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CLIENTS = wl.CLIENTS
LABEL = {"hfinfer": "hfinfer", "huggingface_hub": "huggingface_hub", "httpx": "bare httpx"}
STATUS_OK = 200
ASYNC_TARGET = 8.0
"""The issue's async target: hfinfer at least 8x bare httpx at concurrency 64."""

IMPORTS = {
    "hfinfer": "from hfinfer import InferenceClient, AsyncInferenceClient",
    "huggingface_hub": "from huggingface_hub import InferenceClient, AsyncInferenceClient",
    "httpx": "import httpx",
}
IMPORT_SNIPPET = "import time\nt0 = time.perf_counter()\n{stmt}\nprint(time.perf_counter() - t0)\n"

Json = dict[str, Any]


# ------------------------------------------------------------------------------------------------
# The server process


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


# ------------------------------------------------------------------------------------------------
# Workloads


@dataclass(frozen=True)
class SyncSpec:
    key: str
    title: str
    unit: str
    units_per_op: int
    ops: int
    target: float
    check: Callable[[object], str | None]


def equals(expected: object) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        if value == expected:
            return None
        text = repr(value)
        return f"unexpected result: {text[:200]}"

    return check


def rotation(r: int, keys: Sequence[str] = CLIENTS) -> list[str]:
    """Round r's order: A,B,C, then B,C,A, then C,A,B, …"""
    k = r % len(keys)
    return [*keys[k:], *keys[:k]]


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def run_sync(spec: SyncSpec, server: Server, rounds: int) -> Json:
    adapters: dict[str, wl.SyncAdapter] = {}
    errors: dict[str, str] = {}
    for c in CLIENTS:
        try:
            adapter = wl.SYNC_FACTORIES[spec.key][c](server.base)
            adapters[c] = adapter
            err = spec.check(adapter.once())
        except Exception as exc:
            err = describe_error(exc)
        if err:
            errors[c] = err
    warmup = max(1, spec.ops // 10)
    for c, adapter in adapters.items():
        if c not in errors:
            for _ in range(warmup):
                adapter.once()
    per_round: dict[str, list[float]] = {c: [] for c in CLIENTS}
    conns: dict[str, list[int]] = {c: [] for c in CLIENTS}
    reqs: dict[str, list[int]] = {c: [] for c in CLIENTS}
    for r in range(rounds):
        for c in rotation(r):
            if c in errors:
                continue
            adapter = adapters[c]
            once = adapter.once
            server.reset()
            gc.collect()
            last: object = None
            t0 = time.perf_counter()
            for _ in range(spec.ops):
                last = once()
            elapsed = time.perf_counter() - t0
            stats = server.stats()
            err = spec.check(last)
            if err:
                errors[c] = f"round {r + 1}: {err}"
                continue
            per_round[c].append(spec.ops * spec.units_per_op / elapsed)
            conns[c].append(stats["connections"])
            reqs[c].append(stats["requests"])
    for adapter in adapters.values():
        adapter.close()
    return summarise(spec.title, spec.unit, spec.ops, per_round, errors, conns, reqs)


async def _async_round(client: str, base: str, n: int, concurrency: int) -> tuple[float, int]:
    adapter = await wl.ASYNC_FACTORIES[client](base)
    try:
        t0 = time.perf_counter()
        results = await wl.run_concurrent(adapter, n, concurrency)
        elapsed = time.perf_counter() - t0
    finally:
        await adapter.close()
    expected = wl.expected_labels()
    return elapsed, sum(1 for x in results if x != expected)


# httpcore 1.0 runs `import sniffio` for every async request; anyio 4.x no longer installs
# sniffio, so where it is missing that import fails (a scan of sys.path) each time.
SNIFFIO_MISSING = importlib.util.find_spec("sniffio") is None


def run_async(server: Server, rounds: int, n: int, concurrency: int) -> Json:
    """A fresh client per round (so its connections are counted), warmed up by a first run."""
    errors: dict[str, str] = {}
    for c in CLIENTS:
        try:
            _, bad = asyncio.run(_async_round(c, server.base, n, concurrency))
            if bad:
                errors[c] = f"{bad} of {n} results differ from the expected labels"
        except Exception as exc:
            errors[c] = describe_error(exc)
    per_round: dict[str, list[float]] = {c: [] for c in CLIENTS}
    conns: dict[str, list[int]] = {c: [] for c in CLIENTS}
    reqs: dict[str, list[int]] = {c: [] for c in CLIENTS}
    max_open: dict[str, list[int]] = {c: [] for c in CLIENTS}
    for r in range(rounds):
        for c in rotation(r):
            if c in errors:
                continue
            server.reset()
            gc.collect()
            elapsed, bad = asyncio.run(_async_round(c, server.base, n, concurrency))
            stats = server.stats()
            if bad:
                errors[c] = f"round {r + 1}: {bad} of {n} results differ"
                continue
            per_round[c].append(n / elapsed)
            conns[c].append(stats["connections"])
            reqs[c].append(stats["requests"])
            max_open[c].append(stats["max_open"])
    out = summarise(
        f"async text_classification ×{n}, concurrency {concurrency}",
        "requests/s",
        n,
        per_round,
        errors,
        conns,
        reqs,
    )
    out["concurrency"] = concurrency
    out["connection_limit"] = concurrency + 1
    out["max_open_connections_per_round"] = max_open
    out["sniffio_installed"] = not SNIFFIO_MISSING
    return out


def summarise(
    title: str,
    unit: str,
    ops: int,
    per_round: dict[str, list[float]],
    errors: dict[str, str],
    conns: dict[str, list[int]],
    reqs: dict[str, list[int]],
) -> Json:
    medians = {c: median(v) for c, v in per_round.items()}
    base = medians["httpx"]
    ratios: dict[str, float | None] = {}
    paired: dict[str, float | None] = {}
    for c in ("hfinfer", "huggingface_hub"):
        m = medians[c]
        ratios[c] = round(m / base, 4) if m is not None and base else None
        pairs = [a / b for a, b in zip(per_round[c], per_round["httpx"], strict=False) if b]
        pm = median(pairs)
        paired[c] = None if pm is None else round(pm, 4)
    return {
        "title": title,
        "unit": unit,
        "ops_per_round": ops,
        "per_round": {c: [round(x, 1) for x in v] for c, v in per_round.items()},
        "median": {c: None if m is None else round(m, 1) for c, m in medians.items()},
        "ratio_to_httpx": ratios,
        "median_paired_ratio_to_httpx": paired,
        "connections_per_round": conns,
        "requests_per_round": reqs,
        "errors": errors,
    }


# ------------------------------------------------------------------------------------------------
# Import time and memory (fresh interpreters)


def _importtime_breakdown(stmt: str, baseline: set[str]) -> list[tuple[str, float]]:
    """Self import time (ms) per top-level package, for modules not imported at start-up."""
    proc = subprocess.run(
        [sys.executable, "-I", "-X", "importtime", "-c", stmt],
        capture_output=True,
        text=True,
        check=True,
    )
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


def measure_imports(runs: int) -> Json:
    per_run: dict[str, list[float]] = {c: [] for c in CLIENTS}
    for c in CLIENTS:  # the first run of each compiles bytecode caches; not counted
        subprocess.run([sys.executable, "-I", "-c", IMPORTS[c]], check=True)
    for r in range(runs):
        for c in rotation(r):
            proc = subprocess.run(
                [sys.executable, "-I", "-c", IMPORT_SNIPPET.format(stmt=IMPORTS[c])],
                capture_output=True,
                text=True,
                check=True,
            )
            per_run[c].append(float(proc.stdout.strip()) * 1000)
    medians = {c: median(v) for c, v in per_run.items()}
    base = medians["httpx"]
    baseline = _startup_modules()
    return {
        "title": "import time (fresh interpreter)",
        "unit": "ms",
        "statements": IMPORTS,
        "per_run_ms": {c: [round(x, 2) for x in v] for c, v in per_run.items()},
        "median": {c: None if m is None else round(m, 2) for c, m in medians.items()},
        "ratio_to_httpx": {
            c: round(m / base, 4) if (m := medians[c]) is not None and base else None
            for c in ("hfinfer", "huggingface_hub")
        },
        "self_ms_by_package": {c: _importtime_breakdown(IMPORTS[c], baseline) for c in CLIENTS},
    }


def measure_memory(server: Server, reps: int, n: int, concurrency: int) -> Json:
    per_rep: dict[str, list[Json]] = {c: [] for c in CLIENTS}
    errors: dict[str, str] = {}
    for r in range(reps):
        for c in rotation(r):
            if c in errors:
                continue
            cmd = [sys.executable, str(HERE / "memprobe.py"), c, server.base, str(n)]
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

    def med(c: str, key: str) -> float | None:
        values = [d[key] for d in per_rep[c] if d.get(key) is not None]
        return None if not values else round(statistics.median(values), 2)

    peak = {c: med(c, "peak_rss_mib") for c in CLIENTS}
    before = {c: med(c, "rss_before_mib") for c in CLIENTS}
    traced = {c: med(c, "tracemalloc_peak_kib") for c in CLIENTS}

    def ratio(values: dict[str, float | None], c: str) -> float | None:
        a, b = values[c], values["httpx"]
        return round(a / b, 4) if a is not None and b else None

    return {
        "title": f"memory of the async run (×{n}, concurrency {concurrency}), one process each",
        "per_rep": per_rep,
        "peak_rss_mib": peak,
        "rss_after_import_mib": before,
        "tracemalloc_peak_kib": traced,
        "ratio_to_httpx": {
            "peak_rss": {c: ratio(peak, c) for c in ("hfinfer", "huggingface_hub")},
            "tracemalloc_peak": {c: ratio(traced, c) for c in ("hfinfer", "huggingface_hub")},
        },
        "errors": errors,
    }


def compat_probe(server: Server) -> Json:
    """What each library returns when a server sends TEI's flat `[{label, score}, ...]`."""
    out: Json = {}
    expected = wl.expected_labels()
    for c, factory in (("hfinfer", wl.HfinferClassify), ("huggingface_hub", wl.HubClassify)):
        try:
            adapter = factory(server.base, srv.CLASSIFY_FLAT)
            got = adapter.once()
            adapter.close()
            out[c] = "all labels" if got == expected else f"only {got!r}"
        except Exception as exc:
            out[c] = describe_error(exc)
    return out


# ------------------------------------------------------------------------------------------------
# Report


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ("hfinfer", "huggingface_hub", "httpx", "httpcore", "h11", "httpx2", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_revision() -> str | None:
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "generated"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
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


def verdict(value: float | None, op: str, target: float) -> str:
    if value is None:
        return "n/a"
    ok = value >= target if op == ">=" else value <= target
    return "pass" if ok else "miss"


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def conns_cell(result: Json) -> str:
    cells = []
    for c in CLIENTS:
        values = result["connections_per_round"][c]
        cells.append("—" if not values else str(max(values)))
    return " / ".join(cells)


def markdown(report: Json) -> str:
    v = report["versions"]
    cap = report["server_capacity"]
    m = report["machine"]
    lines = [
        "# hfinfer benchmark",
        "",
        f"Python {m['python']}, {m['cpu_count']} CPUs ({m['cpu_model'] or 'unknown CPU'}); "
        f"hfinfer {v['hfinfer']} ({report['hfinfer_revision'] or '?'}), "
        f"huggingface_hub {v['huggingface_hub']} (transport httpx2 {v['httpx2'] or '—'}), "
        f"httpx {v['httpx']}, numpy {v['numpy']}. "
        f"Median of {report['rounds']} interleaved rounds; load average before/after "
        f"{report['loadavg_before']} / {report['loadavg_after']}.",
        "",
        "Loopback server capacity (raw sockets, one process): "
        f"{fmt(cap['request_response']['requests_per_s'])} requests/s with "
        f"{cap['request_response']['sockets']} keep-alive sockets, one request in flight each; "
        f"{fmt(cap['pipelined']['requests_per_s'])} requests/s pipelined; "
        f"{fmt(cap['stream']['chunks_per_s'])} stream chunks/s.",
        "",
        "Throughput: higher is better, ratio = hfinfer ÷ bare httpx (> 1 is faster). "
        "Import time and memory: lower is better, ratio = hfinfer ÷ httpx (< 1 is smaller).",
        "",
        "| workload | unit | hfinfer | huggingface_hub | bare httpx | hfinfer ÷ httpx | target "
        "| hub ÷ httpx | max TCP conns/round (hfinfer / hub / httpx) |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for key, result in report["workloads"].items():
        med = result["median"]
        ratio = result["ratio_to_httpx"]
        if key == "async_text_classification":
            limit = result["connection_limit"]
            conns = result["connections_per_round"]["hfinfer"]
            conn_verdict = "n/a" if not conns else "pass" if max(conns) <= limit else "miss"
            target = (
                f"≥ 8: {verdict(ratio['hfinfer'], '>=', ASYNC_TARGET)}; "
                f"≤ {limit} conns: {conn_verdict}"
            )
        else:
            op, value = report["targets"][key]
            target = f"{op.replace('>=', '≥')} {value}: {verdict(ratio['hfinfer'], op, value)}"
        lines.append(
            f"| {result['title']} | {result['unit']} | {fmt(med['hfinfer'])} "
            f"| {fmt(med['huggingface_hub'])} | {fmt(med['httpx'])} "
            f"| {fmt_ratio(ratio['hfinfer'])} | {target} "
            f"| {fmt_ratio(ratio['huggingface_hub'])} | {conns_cell(result)} |"
        )
    imp = report["import_time"]
    op, value = report["targets"]["import_time"]
    lines.append(
        f"| import (`{IMPORTS['hfinfer']}` vs `{IMPORTS['httpx']}`) | ms | "
        f"{fmt(imp['median']['hfinfer'], 1)} | {fmt(imp['median']['huggingface_hub'], 1)} "
        f"| {fmt(imp['median']['httpx'], 1)} | {fmt_ratio(imp['ratio_to_httpx']['hfinfer'])} "
        f"| ≤ {value}: {verdict(imp['ratio_to_httpx']['hfinfer'], op, value)} "
        f"| {fmt_ratio(imp['ratio_to_httpx']['huggingface_hub'])} | |"
    )
    mem = report["memory"]
    for label, key, rkey, unit in (
        ("peak RSS, async run", "peak_rss_mib", "peak_rss", "MiB"),
        ("traced Python peak, async run", "tracemalloc_peak_kib", "tracemalloc_peak", "KiB"),
    ):
        vals = mem[key]
        lines.append(
            f"| {label} | {unit} | {fmt(vals['hfinfer'], 1)} | {fmt(vals['huggingface_hub'], 1)} "
            f"| {fmt(vals['httpx'], 1)} | {fmt_ratio(mem['ratio_to_httpx'][rkey]['hfinfer'])} "
            f"| — | {fmt_ratio(mem['ratio_to_httpx'][rkey]['huggingface_hub'])} | |"
        )
    notes = report["notes"]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def key_is_sync(result: Json) -> bool:
    return "concurrency" not in result


def collect_notes(report: Json) -> list[str]:
    notes: list[str] = []
    for result in report["workloads"].values():
        for c, err in result["errors"].items():
            notes.append(f"{result['title']}: {LABEL[c]} not timed — {err}")
        for c, values in result["requests_per_round"].items():
            if values and max(values) > result["ops_per_round"]:
                notes.append(
                    f"{result['title']}: {LABEL[c]} sent up to {max(values)} requests "
                    f"for {result['ops_per_round']} calls"
                )
        for c, values in result["connections_per_round"].items():
            if key_is_sync(result) and values and max(values) > 1:
                notes.append(
                    f"{result['title']}: {LABEL[c]} opened up to {max(values)} TCP connections "
                    f"per round of {result['ops_per_round']} calls (a kept-alive client needs 0-1)"
                )
    async_result = report["workloads"].get("async_text_classification", {})
    for c, values in async_result.get("connections_per_round", {}).items():
        if values and max(values) > async_result["connection_limit"]:
            notes.append(
                f"{async_result['title']}: {LABEL[c]} opened up to {max(values)} TCP connections "
                f"per round (more than concurrency + 1 = {async_result['connection_limit']})"
            )
    if async_result and not async_result.get("sniffio_installed", True):
        notes.append(
            "sniffio is not installed (anyio 4.x no longer requires it), so httpcore 1.0 retries "
            "a failing `import sniffio` on every async request; see bench/README.md for why bare "
            "httpx async is slow at concurrency 64."
        )
    for c, err in report["memory"]["errors"].items():
        notes.append(f"memory: {LABEL[c]} failed — {err}")
    breakdown = report["import_time"]["self_ms_by_package"]["hfinfer"]
    notes.append(
        "hfinfer import, self time by top-level package (`-X importtime`, one run): "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in breakdown[:6])
        + "."
    )
    compat = report["compat_flat_text_classification"]
    notes.append(
        "text_classification is served in the Inference API's nested shape `[[...]]`; against "
        f"TEI's flat `[...]` hfinfer returns {compat.get('hfinfer')}, huggingface_hub returns "
        f"{compat.get('huggingface_hub')}."
    )
    notes.append(
        "Streams: one HTTP chunk per SSE event (as TGI sends); bare httpx iterates "
        "`iter_lines()` and `json.loads` each `data:` line. The async workload makes a fresh "
        "client per round (connections counted per round); bare httpx's pool keeps 64 idle "
        "connections."
    )
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (≥ 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the calls per round")
    parser.add_argument("--chunks", type=int, default=2000, help="events per stream")
    parser.add_argument("--dim", type=int, default=384, help="embedding size")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="output folder")
    parser.add_argument(
        "--pin", action="store_true", help="pin the server to the last CPU, the clients to CPU 0"
    )
    args = parser.parse_args()
    scale: float = args.scale

    def n(base: int) -> int:
        return max(1, round(base * scale))

    started = time.perf_counter()
    load_before = loadavg()
    server_cpu = None
    if args.pin and hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        server_cpu = (os.cpu_count() or 2) - 1
        os.sched_setaffinity(0, {0})
    server = Server(args.chunks, args.dim, server_cpu)
    chunks = args.chunks
    specs = [
        SyncSpec(
            "text_classification",
            f'text_classification("{wl.TEXT}") ×{n(1000)}',
            "calls/s",
            1,
            n(1000),
            1.05,
            equals(wl.expected_labels()),
        ),
        SyncSpec(
            "chat_completion",
            f"chat_completion(messages) ×{n(1000)}",
            "calls/s",
            1,
            n(1000),
            1.05,
            equals(srv.CHAT_CONTENT),
        ),
        SyncSpec(
            "chat_completion_stream",
            f"chat_completion(stream=True), {chunks} chunks ×{n(5)}",
            "chunks/s",
            chunks,
            n(5),
            0.8,
            equals(wl.expected_chat_stream(chunks)),
        ),
        SyncSpec(
            "text_generation_stream",
            f"text_generation(stream=True), {chunks} tokens ×{n(5)}",
            "tokens/s",
            chunks,
            n(5),
            0.8,
            equals(wl.expected_tokens(chunks)),
        ),
        SyncSpec(
            "feature_extraction",
            f"feature_extraction → ndarray[{args.dim}] ×{n(1000)}",
            "calls/s",
            1,
            n(1000),
            1.05,
            lambda value: wl.check_embedding(value, args.dim),
        ),
    ]
    report: Json = {
        "machine": machine(),
        "versions": versions(),
        "hfinfer_revision": git_revision(),
        "rounds": args.rounds,
        "pinned": server_cpu is not None,
        "loadavg_before": load_before,
        "targets": {s.key: (">=", s.target) for s in specs}
        | {"async_text_classification": (">=", ASYNC_TARGET), "import_time": ("<=", 1.3)},
    }
    try:
        print(f"server on {server.base}; measuring its capacity…", flush=True)
        report["server_capacity"] = measure_capacity(server, args.chunks, args.dim, 1.5)
        print(json.dumps(report["server_capacity"]), flush=True)
        report["compat_flat_text_classification"] = compat_probe(server)
        report["workloads"] = {}
        for spec in specs:
            t0 = time.perf_counter()
            result = run_sync(spec, server, args.rounds)
            report["workloads"][spec.key] = result
            print(
                f"{spec.title}: {result['median']} {spec.unit} ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
        t0 = time.perf_counter()
        result = run_async(server, args.rounds, n(1000), 64)
        report["workloads"]["async_text_classification"] = result
        print(
            f"{result['title']}: {result['median']} requests/s, connections "
            f"{result['connections_per_round']} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        t0 = time.perf_counter()
        report["import_time"] = measure_imports(max(11, args.rounds))
        print(f"import: {report['import_time']['median']} ms ({time.perf_counter() - t0:.0f} s)")
        t0 = time.perf_counter()
        report["memory"] = measure_memory(server, 3, n(1000), 64)
        print(
            f"memory: peak RSS {report['memory']['peak_rss_mib']} MiB "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    finally:
        server.stop()
    report["loadavg_after"] = loadavg()
    report["duration_s"] = round(time.perf_counter() - started, 1)
    report["notes"] = collect_notes(report)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (args.out / "results.md").write_text(table)
    print()
    print(table)
    print(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")


if __name__ == "__main__":
    main()
