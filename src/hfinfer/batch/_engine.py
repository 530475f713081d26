"""The batch engine: one task method of an `AsyncInferenceClient` over many rows, async inside.

Bounded concurrency (a fixed number of workers pulling from one iterator, so only the rows in
flight are in memory), an optional rate limit on rows started per second, the client's own
retries, and a result per row: its output, or a typed error with attempts and latency. One bad
row never stops the job; a fatal condition (401/403, or the server unreachable for longer than
`fatal_after` seconds) stops it cleanly: the workers finish no further rows, and every result
already handed to `on_result` stays delivered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from hfinfer._sending import ATTEMPTS
from hfinfer.errors import HfHubHTTPError, InferenceConnectionError, InferenceInputError

DEFAULT_CONCURRENCY = 32
DEFAULT_FATAL_AFTER = 30.0
FATAL_STATUSES = frozenset({401, 403})
"""Answers that concern the whole job (credentials, permissions), not one row."""
_DOWN_PAUSE = 0.5


@dataclass(frozen=True)
class Row:
    """One unit of work: a stable id and the method's keyword arguments.

    `problem` is set when the row could not be turned into arguments (an unknown field, a value
    of the wrong type): it is then recorded as an error without any request.
    """

    id: Any
    kwargs: Mapping[str, Any]
    problem: InferenceInputError | None = None
    meta: Any = None


@dataclass(frozen=True)
class ErrorInfo:
    """A row's failure as data: the error's class name, message and what the server said."""

    type: str
    message: str
    status_code: int | None = None
    request_id: str | None = None
    parameter: str | None = None
    retryable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "status_code": self.status_code,
            "request_id": self.request_id,
            "parameter": self.parameter,
            "retryable": self.retryable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorInfo:
        return cls(
            type=str(data.get("type", "InferenceError")),
            message=str(data.get("message", "")),
            status_code=data.get("status_code"),
            request_id=data.get("request_id"),
            parameter=data.get("parameter"),
            retryable=bool(data.get("retryable", False)),
        )

    @classmethod
    def from_exception(cls, error: BaseException) -> ErrorInfo:
        if isinstance(error, HfHubHTTPError):
            status = error.status_code
            return cls(
                type=type(error).__name__,
                message=error.server_message or str(error),
                status_code=status,
                request_id=error.request_id,
                retryable=status in (408, 429) or status >= 500,
            )
        return cls(
            type=type(error).__name__,
            message=str(error) or type(error).__name__,
            parameter=getattr(error, "parameter", None),
            retryable=isinstance(error, (InferenceConnectionError, TimeoutError)),
        )


@dataclass(frozen=True)
class RowResult:
    """What became of one row: `output` (the method's return value) or `error`."""

    row: Row
    output: Any
    error: ErrorInfo | None
    attempts: int
    latency_ms: float

    @property
    def id(self) -> Any:
        return self.row.id

    @property
    def ok(self) -> bool:
        return self.error is None


class FatalError(Exception):
    """The job cannot go on (credentials refused, server gone); the rows done so far are kept."""

    def __init__(self, message: str, *, cause: ErrorInfo | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class RateLimiter:
    """At most `rps` rows started per second, evenly spaced (no burst)."""

    def __init__(self, rps: float) -> None:
        if not rps > 0:
            raise ValueError(f"`rps` must be a positive number of requests per second, not {rps!r}")
        self._interval = 1.0 / rps
        self._next = 0.0

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


@dataclass
class EngineOptions:
    """How hard to push: rows in flight, rows started per second, how long a dead server is borne."""

    concurrency: int = DEFAULT_CONCURRENCY
    rps: float | None = None
    fatal_after: float = DEFAULT_FATAL_AFTER
    params: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments passed on every call (a row's own values win)."""

    def check(self) -> None:
        """Bad settings are refused before anything is sent, naming the parameter."""
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int):
            raise ValueError(f"`concurrency` must be an int, not {self.concurrency!r}")
        if self.concurrency < 1:
            raise ValueError(f"`concurrency` must be at least 1, not {self.concurrency}")
        if self.rps is not None and not (
            isinstance(self.rps, (int, float)) and not isinstance(self.rps, bool) and self.rps > 0
        ):
            raise ValueError(f"`rps` must be a positive number, not {self.rps!r}")
        if not self.fatal_after >= 0:
            raise ValueError(f"`fatal_after` must be >= 0 seconds, not {self.fatal_after!r}")


class _Health:
    """Whether the server answers: the time since it last answered, seen from every row."""

    def __init__(self, fatal_after: float) -> None:
        self.fatal_after = fatal_after
        self.answered = time.monotonic()

    def saw_answer(self) -> None:
        self.answered = time.monotonic()

    def down_for(self) -> float:
        return time.monotonic() - self.answered


def problem_result(row: Row) -> RowResult:
    """The result of a row whose arguments were refused: its error, no request, no attempt."""
    assert row.problem is not None
    return RowResult(row, None, ErrorInfo.from_exception(row.problem), 0, 0.0)


async def call_row(call: Callable[..., Any], row: Row, params: Mapping[str, Any]) -> RowResult:
    """One row through the method: its result, or its error as data (never raised)."""
    started = time.perf_counter()
    if row.problem is not None:
        return problem_result(row)
    counter = [0]
    token = ATTEMPTS.set(counter)  # the client counts every request it sends for this row
    try:
        output = await call(**{**params, **row.kwargs})
        error = None
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        output, error = None, exc
    finally:
        ATTEMPTS.reset(token)
    latency = round((time.perf_counter() - started) * 1000.0, 3)
    if error is None:
        return RowResult(row, output, None, max(counter[0], 1), latency)
    attempts = max(counter[0], int(getattr(error, "attempts", 0) or 0))
    return RowResult(row, None, ErrorInfo.from_exception(error), attempts, latency)


@runtime_checkable
class AsyncRows(Protocol):
    """Rows that arrive while the job runs (a worker process's, from its parent)."""

    async def next_row(self) -> Row | None:
        """The next row, or None when there are no more."""
        ...


async def run_rows(
    client: Any,
    method: str,
    rows: Iterable[Row] | AsyncRows,
    on_result: Callable[[RowResult], None],
    options: EngineOptions | None = None,
) -> None:
    """Run `client.<method>` over `rows`, calling `on_result` once per finished row.

    Rows are pulled from the iterator (or `AsyncRows`) only when a worker is free, so memory
    holds only the rows in flight. An exception from the iterator (a broken input file) or from `on_result` stops
    the job like a fatal condition and is re-raised; `FatalError` is raised for a fatal answer.
    """
    options = options or EngineOptions()
    options.check()
    call = getattr(client, method)
    limiter = RateLimiter(options.rps) if options.rps else None
    health = _Health(options.fatal_after)
    pull = rows.next_row if isinstance(rows, AsyncRows) else None
    source: Iterator[Row] = iter(()) if isinstance(rows, AsyncRows) else iter(rows)
    stop: list[BaseException] = []

    async def finish(row: Row) -> RowResult | None:
        while True:
            if limiter is not None:
                await limiter.acquire()
            began = time.monotonic()
            result = await call_row(call, row, options.params)
            if result.error is None or result.error.status_code is not None:
                health.saw_answer()
                if result.error is not None and result.error.status_code in FATAL_STATUSES:
                    raise FatalError(
                        f"the server refused the job: HTTP {result.error.status_code}: "
                        f"{result.error.message}",
                        cause=result.error,
                    )
                return result
            if result.error.type != InferenceConnectionError.__name__:
                return result
            if health.answered > began:  # the server answers others: this row's own problem
                return result
            if health.down_for() > health.fatal_after:
                raise FatalError(
                    f"the server has been unreachable for {health.down_for():.0f}s "
                    f"(fatal_after={health.fatal_after:g}s): {result.error.message}",
                    cause=result.error,
                )
            await asyncio.sleep(_DOWN_PAUSE)
            if stop:
                return None

    async def worker() -> None:
        while not stop:
            try:
                row = next(source, None) if pull is None else await pull()
                if row is None:
                    return
                result = await finish(row)
                if result is not None and not stop:
                    on_result(result)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                stop.append(exc)
                for task in tasks:
                    if task is not asyncio.current_task():
                        task.cancel()
                return

    tasks = [asyncio.ensure_future(worker()) for _ in range(options.concurrency)]
    await asyncio.gather(*tasks, return_exceptions=True)
    if stop:
        raise stop[0]
