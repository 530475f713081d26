"""The targets, hfinfer's overhead above its engines, and results.md (from the results' JSON)."""

from __future__ import annotations

from typing import Any

import workloads as wl
from harness import median

Json = dict[str, Any]
COLUMNS = ("hfinfer", "hfinfer_httpx", "httpx", "aiohttp", "hub_old", "hub", "openai")

# (label, (row, client) ÷ (row, client), op, target); rows are keys of the results' "workloads".
RATIO_TARGETS: list[tuple[str, tuple[str, str], tuple[str, str], str, float]] = [
    *(
        (f"sync {w}: hfinfer ÷ bare httpx", (w, "hfinfer"), (w, "httpx"), ">=", 0.95)
        for w in ("text_classification", "chat_completion", "feature_extraction")
    ),
    *(
        (f"sync {w}: hfinfer ÷ bare httpx", (w, "hfinfer"), (w, "httpx"), ">=", 1.0)
        for w in ("chat_completion_stream", "text_generation_stream")
    ),
    (
        "async text_classification @64: hfinfer (aiohttp) ÷ huggingface_hub 0.26 (aiohttp)",
        ("async_text_classification_c64", "hfinfer"),
        ("async_text_classification_c64", "hub_old"),
        ">=",
        1.0,
    ),
    (
        "async text_classification @64: hfinfer (aiohttp) ÷ huggingface_hub latest",
        ("async_text_classification_c64", "hfinfer"),
        ("async_text_classification_c64", "hub"),
        ">=",
        3.0,
    ),
    (
        "sync chat_completion: hfinfer ÷ openai",
        ("chat_completion", "hfinfer"),
        ("chat_completion", "openai"),
        ">=",
        1.2,
    ),
    (
        "async chat_completion, one at a time: hfinfer (aiohttp) ÷ openai",
        ("async_chat_completion", "hfinfer"),
        ("async_chat_completion", "openai"),
        ">=",
        1.2,
    ),
]
IMPORT_TARGET = 1.3
OVERHEADS = [
    # (row, engine, hfinfer client, bare client)
    ("text_classification", "httpx (sync)", "hfinfer", "httpx"),
    ("chat_completion", "httpx (sync)", "hfinfer", "httpx"),
    ("async_text_classification", "aiohttp", "hfinfer", "aiohttp"),
    ("async_chat_completion", "aiohttp", "hfinfer", "aiohttp"),
    ("async_text_classification", "httpx (async)", "hfinfer_httpx", "httpx"),
    ("async_chat_completion", "httpx (async)", "hfinfer_httpx", "httpx"),
]


def verdict(value: float | None, op: str, target: float) -> str:
    if value is None:
        return "n/a"
    return "pass" if (value >= target if op == ">=" else value <= target) else "miss"


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a is not None and b else None


def compute_targets(report: Json) -> list[Json]:
    rows = report["workloads"]
    out: list[Json] = []
    for label, (ra, ca), (rb, cb), op, target in RATIO_TARGETS:
        a, b = rows.get(ra, {}), rows.get(rb, {})
        value = _ratio(a.get("median", {}).get(ca), b.get("median", {}).get(cb))
        ra_rounds = a.get("per_round", {}).get(ca, [])
        rb_rounds = b.get("per_round", {}).get(cb, [])
        pairs = [x / y for x, y in zip(ra_rounds, rb_rounds, strict=False) if y]
        paired = median(pairs)
        out.append(
            {
                "target": label,
                "op": op,
                "value": target,
                "measured": value,
                "median_paired_ratio": None if paired is None else round(paired, 4),
                "verdict": verdict(value, op, target),
            }
        )
    imp = report["import_time"]["median"]
    value = _ratio(imp.get("hfinfer"), imp.get("httpx"))
    out.append(
        {
            "target": f"import: `{wl.IMPORTS['hfinfer']}` ÷ `import httpx`",
            "op": "<=",
            "value": IMPORT_TARGET,
            "measured": value,
            "verdict": verdict(value, "<=", IMPORT_TARGET),
        }
    )
    for c in (64, 256):
        for client, engine in (("hfinfer", "aiohttp"), ("hfinfer_httpx", "httpx")):
            worst: list[int] = []
            for w in ("text_classification", "chat_completion"):
                row = rows.get(f"async_{w}_c{c}", {})
                worst += row.get("connections_per_round", {}).get(client, [])
            most = max(worst) if worst else None
            out.append(
                {
                    "target": f"async @{c}, engine {engine}: most TCP connections in a round",
                    "op": "<=",
                    "value": c + 1,
                    "measured": most,
                    "verdict": verdict(most, "<=", c + 1),
                }
            )
    return out


def compute_overheads(report: Json) -> list[Json]:
    """µs per call above the bare engine: 1e6/rate(hfinfer) − 1e6/rate(bare), from the medians."""
    out: list[Json] = []
    for row, engine, client, bare in OVERHEADS:
        result = report["workloads"].get(row)
        if result is None:
            continue
        a, b = result["median"].get(client), result["median"].get(bare)
        us_a = None if not a else 1e6 / a
        us_b = None if not b else 1e6 / b
        diffs = [
            1e6 / x - 1e6 / y
            for x, y in zip(result["per_round"][client], result["per_round"][bare], strict=False)
            if x and y
        ]
        paired = median(diffs)
        out.append(
            {
                "row": row,
                "title": result["title"],
                "engine": engine,
                "client": client,
                "bare": bare,
                "hfinfer_us": None if us_a is None else round(us_a, 1),
                "bare_us": None if us_b is None else round(us_b, 1),
                "overhead_us": None if us_a is None or us_b is None else round(us_a - us_b, 1),
                "median_paired_overhead_us": None if paired is None else round(paired, 1),
            }
        )
    return out


def fmt(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def label(report: Json, client: str) -> str:
    v, old = report["versions"], report.get("hub_old_versions") or {}
    if client == "hub":
        return f"huggingface_hub {v.get('huggingface_hub')}"
    if client == "hub_old":
        return f"huggingface_hub {old.get('huggingface_hub') or '0.26 (not run)'}"
    if client == "openai":
        return f"openai {v.get('openai')}"
    return wl.CLIENTS[client].label


def _cell(result: Json, client: str) -> str:
    if client not in result["clients"]:
        return "—"
    if client in result["errors"]:
        return "failed"
    value = fmt(result["median"].get(client))
    conns = result["connections_per_round"].get(client) or []
    if "concurrency" in result and conns:
        value += f" ({max(conns)})"
    return value


def markdown(report: Json) -> str:
    v, m, cap = report["versions"], report["machine"], report["server_capacity"]
    old = report.get("hub_old_versions") or {}
    lines = [
        "# hfinfer benchmark",
        "",
        f"Python {m['python']}, {m['cpu_count']} CPUs ({m['cpu_model'] or 'unknown CPU'}); "
        f"hfinfer {v['hfinfer']} ({report['hfinfer_revision'] or '?'}; async engines: "
        f"{report['hfinfer_async_engines']}), httpx {v['httpx']} (httpcore {v['httpcore']}, "
        f"h11 {v['h11']}), aiohttp {v['aiohttp']}, huggingface_hub {v['huggingface_hub']} "
        f"(httpx2 {v['httpx2'] or '—'}), huggingface_hub {old.get('huggingface_hub') or '—'} "
        f"(aiohttp {old.get('aiohttp') or '—'}, requests {old.get('requests') or '—'}; own venv), "
        f"openai {v['openai']} (pydantic {v['pydantic']}), numpy {v['numpy']}, anyio "
        f"{v['anyio']}, sniffio {v['sniffio'] or 'absent'}. Median of {report['rounds']} "
        f"interleaved rounds; load average before/after {report['loadavg_before']} / "
        f"{report['loadavg_after']}; {report['duration_s']} s.",
        "",
        "Loopback server capacity (raw sockets, one process): "
        f"{fmt(cap['request_response']['requests_per_s'])} requests/s with "
        f"{cap['request_response']['sockets']} keep-alive sockets, one request in flight each; "
        f"{fmt(cap['pipelined']['requests_per_s'])} requests/s pipelined; "
        f"{fmt(cap['stream']['chunks_per_s'])} stream chunks/s.",
        "",
        "## Throughput (higher is faster)",
        "",
        "Sync rows: hfinfer on httpx's own transport, its bare engine bare httpx. Async rows: "
        'hfinfer with `engine="aiohttp"` (the default; bare engine: bare aiohttp) and '
        '`engine="httpx"` (bare engine: bare httpx async). Concurrency rows: a fresh client '
        "per round; in brackets the most TCP connections the server accepted in one round.",
        "",
        "| workload | unit | "
        + " | ".join(label(report, c) for c in COLUMNS)
        + " | hfinfer ÷ bare engine | engine=httpx ÷ bare httpx |",
        "| --- | --- |" + " ---: |" * (len(COLUMNS) + 2),
    ]
    for result in report["workloads"].values():
        cells = " | ".join(_cell(result, c) for c in COLUMNS)
        med = result["median"]
        bare = "httpx" if result["mode"] == "sync" else "aiohttp"
        ratio = fmt(_ratio(med.get("hfinfer"), med.get(bare)), 2)
        ratio_httpx = fmt(_ratio(med.get("hfinfer_httpx"), med.get("httpx")), 2)
        lines.append(
            f"| {result['title']} | {result['unit']} | {cells} | {ratio} | {ratio_httpx} |"
        )
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "| --- | ---: | --- |",
    ]
    for t in report["targets"]:
        sign = "≥" if t["op"] == ">=" else "≤"
        digits = 0 if isinstance(t["value"], int) else 2
        lines.append(
            f"| {t['target']} {sign} {t['value']} | {fmt(t['measured'], digits)} | {t['verdict']} |"
        )
    lines += [
        "",
        "## hfinfer's overhead above its engine (µs per call, from the medians)",
        "",
        "| call | engine | hfinfer | bare engine | overhead | median per-round overhead |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for o in report["overheads"]:
        lines.append(
            f"| {o['title']} | {o['engine']} | {fmt(o['hfinfer_us'], 1)} | {fmt(o['bare_us'], 1)} "
            f"| {fmt(o['overhead_us'], 1)} | {fmt(o['median_paired_overhead_us'], 1)} |"
        )
    imp, mem = report["import_time"]["median"], report["memory"]
    lines += [
        "",
        "## Import time and memory (lower is smaller)",
        "",
        "| measure | unit | " + " | ".join(label(report, c) for c in COLUMNS) + " |",
        "| --- | --- |" + " ---: |" * len(COLUMNS),
        "| import (fresh `python -I`) | ms | "
        + " | ".join(fmt(imp.get(c), 1) for c in COLUMNS)
        + " |",
    ]
    for name, key, unit in (
        ("RSS after import", "rss_after_import_mib", "MiB"),
        ("peak RSS, async run", "peak_rss_mib", "MiB"),
        ("traced Python peak, async run", "tracemalloc_peak_kib", "KiB"),
    ):
        vals = mem[key]
        lines.append(
            f"| {name} | {unit} | " + " | ".join(fmt(vals.get(c), 1) for c in COLUMNS) + " |"
        )
    if report["notes"]:
        lines += ["", "Notes:", ""]
        lines += [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"


def collect_notes(report: Json) -> list[str]:
    notes: list[str] = []
    for result in report["workloads"].values():
        title = result["title"]
        for c, err in result["errors"].items():
            notes.append(f"{title}: {wl.CLIENTS[c].label} not timed — {err}")
        for c, values in result["requests_per_round"].items():
            if values and max(values) > result["ops_per_round"]:
                notes.append(
                    f"{title}: {wl.CLIENTS[c].label} sent up to {max(values)} requests "
                    f"for {result['ops_per_round']} calls"
                )
        for c, values in result["connections_per_round"].items():
            if not values:
                continue
            limit = result.get("connection_limit", 1)
            if max(values) > limit:
                notes.append(
                    f"{title}: {wl.CLIENTS[c].label} opened up to {max(values)} TCP connections "
                    f"per round of {result['ops_per_round']} calls (a pooled client needs "
                    f"≤ {limit})"
                )
    if not report["versions"].get("sniffio"):
        notes.append(
            "sniffio is not installed, so httpcore 1.0 retries a failing `import sniffio` on "
            "every async request (see bench/README.md)."
        )
    for c, err in report["memory"]["errors"].items():
        notes.append(f"memory: {wl.CLIENTS[c].label} failed — {err}")
    for c, err in report["import_time"]["errors"].items():
        notes.append(f"import: {wl.CLIENTS[c].label} failed — {err}")
    for key in ("hfinfer", "httpx"):
        breakdown = report["import_time"][f"{key}_self_ms_by_package"]
        notes.append(
            f"`{wl.IMPORTS[key]}`, self time by top-level package (`-X importtime`, one run): "
            + ", ".join(f"{name} {ms:.1f} ms" for name, ms in breakdown[:6])
            + "."
        )
    compat = report["compat_flat_text_classification"]
    notes.append(
        "text_classification is served in the Inference API's nested shape `[[...]]`; against "
        "TEI's flat `[...]`: "
        + "; ".join(f"{wl.CLIENTS[c].label} returns {r}" for c, r in compat.items())
        + "."
    )
    notes.append(
        "Pools: hfinfer (both engines), bare httpx and bare aiohttp get max(concurrency, 100) "
        "connections (all kept alive); huggingface_hub and openai use their defaults. "
        "Memory is not probed for openai (it has no text_classification)."
    )
    return notes
