"""Progress while a job runs, and its summary at the end.

On a terminal, a tqdm bar (rate, ETA, errors and retries so far); elsewhere a plain line every
`interval` seconds; nothing with `mode="quiet"`. The summary counts this run's rows (done,
failed by error type, throughput, p50/p95 latency) and the job's total so far.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

from hfinfer.batch._engine import ErrorInfo

ProgressMode = Literal["auto", "bar", "lines", "quiet"]
PROGRESS_MODES: tuple[ProgressMode, ...] = ("auto", "bar", "lines", "quiet")
LINE_INTERVAL = 10.0
LATENCY_SAMPLE = 1 << 16
"""Latencies kept for p50/p95: all of them up to this many, then a uniform sample of this size
(reservoir sampling), so that memory stays flat on any number of rows."""


@dataclass
class Summary:
    """What a run did. `done` and `failed` count this run's rows; `skipped` those done before."""

    done: int = 0
    failed: int = 0
    skipped: int = 0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    total: int | None = None
    aborted: str | None = None
    """Why the job stopped early (a fatal condition), or None when it finished."""

    @property
    def ok(self) -> int:
        return self.done - self.failed

    @property
    def rows_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "ok": self.ok,
            "failed": self.failed,
            "skipped": self.skipped,
            "retries": self.retries,
            "errors": dict(self.errors),
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
            "total": self.total,
            "aborted": self.aborted,
        }

    def text(self) -> str:
        lines = [
            f"done {self.done} rows in {self.seconds:.1f}s ({self.rows_per_second:,.1f} rows/s):"
            f" {self.ok} ok, {self.failed} failed; {self.skipped} done before; "
            f"{self.retries} retries",
        ]
        if self.p50_ms is not None:
            lines.append(f"latency p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms")
        for kind, count in self.errors.most_common():
            lines.append(f"  {kind}: {count}")
        if self.aborted:
            lines.append(f"stopped early: {self.aborted} (rerun with --resume to finish)")
        return "\n".join(lines)


class Progress:
    """Counts finished rows and shows them (see the module docstring)."""

    def __init__(
        self,
        total: int | None,
        skipped: int,
        mode: ProgressMode = "auto",
        stream: TextIO | None = None,
        interval: float = LINE_INTERVAL,
    ) -> None:
        if mode not in PROGRESS_MODES:
            raise ValueError(f"`progress` must be one of {', '.join(PROGRESS_MODES)}, not {mode!r}")
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if self.stream.isatty() else "lines"
        self.mode = mode
        self.summary = Summary(skipped=skipped, total=total)
        self._latencies = array("d")
        self._latency_count = 0
        self._sampler = random.Random(0)  # seeded: the same job gives the same summary
        self._started = time.monotonic()
        self._last_line = self._started
        self.interval = interval
        self._bar: Any = None
        if mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=skipped, file=self.stream, unit="row", dynamic_ncols=True
            )

    def update(self, error: ErrorInfo | None, attempts: int, latency_ms: float) -> None:
        summary = self.summary
        summary.done += 1
        summary.retries += max(attempts - 1, 0)
        if error is not None:
            summary.failed += 1
            summary.errors[error.type] += 1
        else:
            self._latency_count += 1
            if len(self._latencies) < LATENCY_SAMPLE:
                self._latencies.append(latency_ms)
            else:
                slot = self._sampler.randrange(self._latency_count)
                if slot < LATENCY_SAMPLE:
                    self._latencies[slot] = latency_ms
        if self._bar is not None:
            self._bar.update(1)
            if error is not None or attempts > 1 or summary.done % 256 == 0:
                self._bar.set_postfix(errors=summary.failed, retries=summary.retries, refresh=False)
        elif self.mode == "lines":
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._last_line = now
                self._line(now)

    def _line(self, now: float) -> None:
        s = self.summary
        elapsed = now - self._started
        rate = s.done / elapsed if elapsed > 0 else 0.0
        finished = s.done + s.skipped
        of = f"/{s.total}" if s.total is not None else ""
        eta = ""
        if s.total is not None and rate > 0:
            eta = f", ETA {max(s.total - finished, 0) / rate:.0f}s"
        print(
            f"hfinfer batch: {finished}{of} rows, {rate:,.1f} rows/s{eta}, "
            f"{s.failed} errors, {s.retries} retries",
            file=self.stream,
            flush=True,
        )

    def close(self, aborted: str | None = None) -> Summary:
        summary = self.summary
        summary.seconds = time.monotonic() - self._started
        summary.aborted = aborted
        if len(self._latencies) >= 2:
            cuts = statistics.quantiles(self._latencies, n=100, method="inclusive")
            summary.p50_ms, summary.p95_ms = round(cuts[49], 3), round(cuts[94], 3)
        elif self._latencies:
            summary.p50_ms = summary.p95_ms = self._latencies[0]
        if self._bar is not None:
            self._bar.close()
        if self.mode != "quiet":
            print(summary.text(), file=self.stream, flush=True)
        return summary
