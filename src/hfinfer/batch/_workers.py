"""A job's rows across worker processes, when one core's CPU bounds it.

On one event loop a job is bound by one core (reading, validating, sending, decoding and
recording a row cost about half a millisecond of CPU). With `workers=N`, the parent keeps what
makes a job exact — reading the input, skipping the ids done, the journal, the progress, the
manifest — and N worker processes (multiprocessing's "spawn": safe with threads and event
loops) each run the batch engine with an `AsyncInferenceClient` of their own, on an even share
of the concurrency and of the rate limit.

- Rows go to a worker in groups (a quarter of its share at least), only while it has fewer than
  twice its share outstanding: memory stays flat, and no worker waits for rows while others
  have many. Finished rows come back gathered over a few milliseconds: few messages per row.
- A worker sends back each finished row's record (its media files written by the worker, beside
  the output, as in one process); the parent journals it. A row whose arguments are invalid is
  recorded by the parent, without a worker.
- A fatal condition in a worker stops the job as in one process (`FatalError`); a worker that
  dies is a fatal condition too. When the parent stops or dies, its pipes close and every
  worker stops at once; rows not journaled run again on resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hfinfer.batch._convert import Binary, MediaSink
from hfinfer.batch._engine import (
    EngineOptions,
    ErrorInfo,
    FatalError,
    Row,
    RowResult,
    problem_result,
    run_rows,
)
from hfinfer.batch._journal import encode_line
from hfinfer.batch._outputs import record

Finished = tuple[bytes, dict[str, Any] | None, int, float]
"""What a worker sends back per row: its journal line, the error (as a dict), attempts, latency."""

_GATHER = 0.005
"""Seconds a worker gathers finished rows into one message (it holds twice its share of rows,
so the parent's next group arrives long before it runs out)."""
_STOP_WAIT = 5.0
"""Seconds a worker is given to exit after its pipe closed, before it is terminated."""


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs, picklable: the call, the client's options, its share."""

    method: str
    model: str | None
    client_options: Mapping[str, Any]
    options: EngineOptions
    openai: bool
    output: Path
    binary: Binary


def shares(total: int, workers: int) -> list[int]:
    """`total` split into `workers` near-equal positive parts (the first ones larger)."""
    base, extra = divmod(total, workers)
    return [base + (1 if k < extra else 0) for k in range(workers)]


class _Inbox:
    """The rows a worker received, one queue item per row, so that every task waiting for a
    row wakes when one arrives. The parent's "stop" (or its pipe closing) cancels the worker's
    whole run at once, requests in flight included.
    """

    def __init__(self, run: asyncio.Task[Any]) -> None:
        self._run: asyncio.Task[Any] | None = run
        self._queue: asyncio.Queue[Row | None] = asyncio.Queue()
        self._ended = False

    def deliver(self, message: tuple[Any, ...] | None) -> None:
        if message is None or message[0] == "stop":
            if self._run is not None:
                self._run.cancel()
        elif message[0] == "end":
            self._queue.put_nowait(None)
        else:
            for fields in message[1]:
                self._queue.put_nowait(Row(*fields))

    def finish(self) -> None:
        """The run is over (its end is being reported): a stop no longer cancels anything."""
        self._run = None

    async def next_row(self) -> Row | None:
        if self._ended:
            return None
        row = await self._queue.get()
        if row is None:
            self._ended = True
            self._queue.put_nowait(None)  # for the other tasks waiting here
        return row


def _relay(
    conn: Any, loop: asyncio.AbstractEventLoop, deliver: Callable[[Any], None], last: set[str]
) -> None:
    """A thread: every message from `conn` handed to `deliver` on the loop, then None once the
    pipe is closed (or after a message whose kind is in `last`)."""
    while True:
        try:
            message = conn.recv()
        except BaseException:  # closed, or a message that cannot be read: the other side is lost
            message = None
        try:
            loop.call_soon_threadsafe(deliver, message)
        except RuntimeError:  # the loop is closed: nobody listens any more
            return
        if message is None or message[0] in last:
            return


def worker_main(conn: Any, spec: WorkerSpec) -> None:
    """A worker process: the engine over the rows the parent sends, records sent back."""
    try:
        asyncio.run(_serve(conn, spec))
    except KeyboardInterrupt:  # the terminal's Ctrl-C reaches every process: the parent decides
        pass
    finally:
        conn.close()


async def _serve(conn: Any, spec: WorkerSpec) -> None:
    from hfinfer.batch._job import make_client

    loop = asyncio.get_running_loop()
    run = asyncio.current_task()
    assert run is not None
    inbox = _Inbox(run)
    relay = (conn, loop, inbox.deliver, {"stop"})
    threading.Thread(target=_relay, args=relay, daemon=True).start()
    media = MediaSink(spec.output, spec.binary)
    pending: list[Finished] = []

    def flush() -> None:
        if pending:
            try:
                conn.send(("done", pending[:]))
            except OSError:  # the parent is gone: stop at once (its relay sees the end too)
                inbox.deliver(None)
            pending.clear()

    def on_result(result: RowResult) -> None:
        error = None if result.error is None else result.error.to_dict()
        if not pending:
            loop.call_later(_GATHER, flush)  # one message for the rows finished meanwhile
        line = encode_line(record(result, spec.openai, media))
        pending.append((line, error, result.attempts, result.latency_ms))

    client = None
    try:
        client = make_client(spec.model, spec.client_options, spec.options.concurrency)
        await run_rows(client, spec.method, inbox, on_result, spec.options)
        inbox.finish()
        flush()
        conn.send(("finished",))
    except asyncio.CancelledError:  # the parent stopped the job (or died)
        return
    except FatalError as exc:
        inbox.finish()
        flush()
        conn.send(("fatal", str(exc), None if exc.cause is None else exc.cause.to_dict()))
    except Exception:
        inbox.finish()
        flush()
        conn.send(("error", traceback.format_exc()))
    finally:
        if client is not None:
            await client.close()


class _Worker:
    """The parent's handle of one worker: its process, its pipe, its rows outstanding."""

    def __init__(self, index: int, spec: WorkerSpec, queue: asyncio.Queue[Any]) -> None:
        context = multiprocessing.get_context("spawn")
        self.index = index
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=worker_main, args=(child, spec), name=f"hfinfer-batch-{index}", daemon=True
        )
        self.process.start()
        child.close()  # so that the worker's death closes the pipe
        self.high = 2 * spec.options.concurrency
        self.group = max(1, spec.options.concurrency // 4)
        self.outstanding = 0
        self.ended = False
        self.finished = False
        self._queue = queue
        relay = (
            self.conn,
            asyncio.get_running_loop(),
            self._deliver,
            {"finished", "fatal", "error"},
        )
        self._reader = threading.Thread(target=_relay, args=relay, daemon=True)
        self._reader.start()

    def _deliver(self, message: Any) -> None:
        self._queue.put_nowait((self, message))

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise self.lost() from None

    def lost(self) -> FatalError:
        self.process.join(1.0)  # so that its exit code is known
        return FatalError(
            f"batch worker {self.index} stopped unexpectedly (exit code {self.process.exitcode})"
        )

    def ask_to_stop(self) -> None:
        """Tell the worker to stop (a finished one has exited already)."""
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))

    def wait_stopped(self) -> None:
        """Make sure the process is gone, then close the pipe (its reader has seen the end)."""
        self.process.join(_STOP_WAIT)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(_STOP_WAIT)
        self._reader.join(_STOP_WAIT)
        self.conn.close()


async def run_in_workers(
    spec: WorkerSpec,
    workers: int,
    rows: Iterator[Row],
    on_result: Callable[[RowResult], None],
    on_finished: Callable[[bytes, ErrorInfo | None, int, float], None],
) -> None:
    """Run `rows` on `workers` processes (see the module docstring).

    `on_result` gets the rows recorded by the parent (invalid arguments); `on_finished` every
    row a worker finished, as its journal line. Raises `FatalError` for a fatal condition or a
    worker that died, and whatever `rows` raises (a broken input), after stopping every worker.
    """
    options = spec.options
    queue: asyncio.Queue[Any] = asyncio.Queue()
    concurrency, rps = shares(options.concurrency, workers), options.rps
    pool: list[_Worker] = []
    exhausted = False

    def top_up(worker: _Worker) -> None:
        nonlocal exhausted
        if worker.high - worker.outstanding < worker.group and not exhausted:
            return  # send rows in groups: fewer messages, each worth its cost
        group: list[tuple[Any, Any, None, Any]] = []  # Row's fields: cheaper to pickle
        while not exhausted and worker.outstanding + len(group) < worker.high:
            row = next(rows, None)
            if row is None:
                exhausted = True
            elif row.problem is not None:
                on_result(problem_result(row))
            else:
                group.append((row.id, row.kwargs, None, row.meta))
        if group:
            worker.send(("rows", group))
            worker.outstanding += len(group)
        if exhausted and not worker.ended:
            worker.send(("end",))
            worker.ended = True

    try:
        for index, share in enumerate(concurrency):
            own = replace(options, concurrency=share, rps=None if rps is None else rps / workers)
            pool.append(_Worker(index, replace(spec, options=own), queue))
        for worker in pool:
            top_up(worker)
        while not all(worker.finished for worker in pool):
            worker, message = await queue.get()
            if message is None:
                raise worker.lost()
            kind = message[0]
            if kind == "done":
                for line, error, attempts, latency in message[1]:
                    info = None if error is None else ErrorInfo.from_dict(error)
                    on_finished(line, info, attempts, latency)
                worker.outstanding -= len(message[1])
                top_up(worker)
            elif kind == "finished":
                worker.finished = True
            elif kind == "fatal":
                cause = None if message[2] is None else ErrorInfo.from_dict(message[2])
                raise FatalError(message[1], cause=cause)
            else:
                raise FatalError(f"batch worker {worker.index} failed:\n{message[1]}")
    finally:
        for worker in pool:
            worker.ask_to_stop()
        for worker in pool:
            worker.wait_stopped()
