"""A batch job: an input file through the engine into an output file, resumable.

`run_job(BatchJob(...))` checks everything it can before any request (the method, the
parameters, the columns, the formats, the job folder), takes the job's lock, compares the
manifest when resuming (a changed input or other settings are refused), recovers the journal,
skips the ids already done, and runs the rest. A fatal condition raises `FatalError` (or
`InputFileError` for a broken input line) after everything finished so far is written; the same
job run again with `resume=True` finishes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfinfer._operation import Operation
from hfinfer._validation import check_value
from hfinfer.batch import _journal as journal_mod
from hfinfer.batch._convert import BINARY_MODES, Binary, MediaSink
from hfinfer.batch._engine import (
    DEFAULT_CONCURRENCY,
    DEFAULT_FATAL_AFTER,
    EngineOptions,
    ErrorInfo,
    FatalError,
    Row,
    RowResult,
    run_rows,
)
from hfinfer.batch._inputs import (
    InputFileError,
    Mapper,
    columns_of,
    count_rows,
    detect_format,
    fingerprint,
    read_rows,
)
from hfinfer.batch._journal import DoneIds, Fsync, JobStateError, Lock, id_key, recover
from hfinfer.batch._outputs import (
    output_format,
    record,
    record_error,
    record_id,
    write_parquet,
)
from hfinfer.batch._progress import Progress, ProgressMode, Summary
from hfinfer.batch._workers import WorkerSpec, run_in_workers
from hfinfer.errors import InferenceInputError

MANIFEST_VERSION = 1
_SAME = (
    "method", "model", "provider", "params", "id_column", "input_format", "binary",
    "ignore_columns",
)  # fmt: skip


def operations_by_method() -> dict[str, Operation]:
    """Every task method of the clients, from the generated operations table."""
    from hfinfer._generated import operations

    table = (getattr(operations, name) for name in operations.__all__)
    return {op.method: op for op in table if isinstance(op, Operation)}


def find_operation(method: str) -> Operation:
    ops = operations_by_method()
    if method not in ops:
        raise InferenceInputError(
            "batch", "method", f"{method!r} is not a task method; one of: {', '.join(sorted(ops))}"
        )
    return ops[method]


@dataclass
class BatchJob:
    """What to run: a task method over an input file, its results into an output file."""

    method: str
    input: Path
    output: Path
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    concurrency: int = DEFAULT_CONCURRENCY
    rps: float | None = None
    fatal_after: float = DEFAULT_FATAL_AFTER
    id_column: str | None = None
    input_format: str | None = None
    ignore_columns: tuple[str, ...] = ()
    binary: Binary = "files"
    fsync: Fsync = "group"
    resume: bool = False
    retry_failed: bool = False
    """On resume, run again the rows whose last record is an error (the new record replaces it)."""
    progress: ProgressMode = "auto"
    client_options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments for `AsyncInferenceClient` (token, timeout, max_retries, headers…)."""
    client: Any = None
    """An `AsyncInferenceClient` to use instead of one built from `model` and client_options."""
    workers: int = 1
    """Processes that send (`_workers.py`): above 1, each has its own client and a share of
    `concurrency` and `rps`, for a job one core's CPU cannot keep up with."""


class _Plan:
    """A job checked and resolved: formats, mapper, manifest, paths. Built before any request."""

    def __init__(self, job: BatchJob) -> None:
        self.job = job
        self.op = find_operation(job.method)
        self.input = Path(job.input)
        self.output = Path(job.output)
        if not self.input.is_file():
            raise InferenceInputError("batch", "input", f"{str(self.input)!r} is not a file")
        self.fmt = detect_format(self.input, job.input_format)
        self.openai = self.fmt == "openai"
        self.out_fmt = output_format(self.output)
        if self.openai and self.out_fmt != "jsonl":
            raise InferenceInputError(
                "batch", "output", "an OpenAI Batch input gives OpenAI Batch output: name it .jsonl"
            )
        if self.openai and job.id_column is not None:
            raise InferenceInputError(
                "batch", "id_column", "an OpenAI Batch input is keyed by `custom_id`"
            )
        if job.binary not in BINARY_MODES:
            raise InferenceInputError("batch", "binary", f"must be one of {BINARY_MODES}")
        EngineOptions(job.concurrency, job.rps, job.fatal_after).check()
        _check_workers(job)
        self.mapper = Mapper(self.op, job.id_column, job.ignore_columns)
        for name, value in job.params.items():
            arg = self.mapper.args.get(name)
            if arg is None:
                raise self.mapper._unknown(name)
            if value is not None:
                check_value(self.op.method, name, arg.check._replace(required=False), value)
        columns = columns_of(self.input, self.fmt)
        if columns is not None:
            self.mapper.check_columns(columns, job.params)
        self.folder = journal_mod.state_dir(self.output)
        self.journal_path = (
            self.output if self.out_fmt == "jsonl" else self.folder / "journal.jsonl"
        )
        self.ordinal = job.id_column is None and not self.openai

    def id_of(self, record: dict[str, Any]) -> Any:
        return record_id(record, self.openai)

    def manifest(self, identity: Mapping[str, Any]) -> dict[str, Any]:
        job = self.job
        return {
            "version": MANIFEST_VERSION,
            "method": self.op.method,
            "model": job.model,
            "provider": (
                job.client_options.get("provider")
                if job.client is None
                else getattr(job.client, "provider", None)
            ),
            "params": dict(job.params),
            "id_column": job.id_column,
            "input_format": self.fmt,
            "output_format": self.out_fmt,
            "binary": job.binary,
            "ignore_columns": sorted(job.ignore_columns),
            "input": {"path": str(self.input.resolve()), **identity},
            "complete": False,
            "summary": None,
        }


def _check_workers(job: BatchJob) -> None:
    workers = job.workers
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InferenceInputError("batch", "workers", f"must be an int >= 1, not {workers!r}")
    if workers > job.concurrency:
        raise InferenceInputError(
            "batch", "workers", f"{workers} workers need a concurrency of {workers} at least"
        )
    if workers > 1 and job.client is not None:
        raise InferenceInputError(
            "batch",
            "workers",
            "a client object cannot be shared with worker processes: give `model` and "
            "`client_options` instead",
        )


def _compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    for key in ("size", "sha256"):
        if old.get("input", {}).get(key) != new["input"][key]:
            raise JobStateError(
                f"the input file changed since the job started ({key}: "
                f"{old.get('input', {}).get(key)} then, {new['input'][key]} now); "
                "resume with the same input, or start a new job with another output"
            )
    for key in _SAME:
        if old.get(key) != new[key]:
            raise JobStateError(
                f"this job was started with {key}={old.get(key)!r}, not {new[key]!r}; "
                "resume with the same settings, or start a new job with another output"
            )


def run_job(job: BatchJob) -> Summary:
    """Run (or resume) a batch job to completion; see the module docstring."""
    return asyncio.run(run_job_async(job))


async def run_job_async(job: BatchJob) -> Summary:
    plan = _Plan(job)
    lock = Lock(plan.folder) if job.resume or not plan.folder.exists() else None
    if lock is None:
        raise JobStateError(
            f"{plan.output} already belongs to a job ({plan.folder}); pass resume=True "
            "(--resume) to continue it, or choose another output"
        )
    try:
        return await _run_locked(plan)
    finally:
        lock.release()


async def _run_locked(plan: _Plan) -> Summary:
    job = plan.job
    identity = fingerprint(plan.input)
    manifest = plan.manifest(identity)
    old = journal_mod.read_manifest(plan.folder)
    if old is None:
        if plan.output.exists() and plan.output.stat().st_size:
            raise JobStateError(f"{plan.output} exists and is not an hfinfer job's output")
        journal_mod.write_manifest(plan.folder, manifest)
    else:
        _compare(old, manifest)
        manifest = {**old, "input": manifest["input"]}
    done = DoneIds(plan.ordinal)
    failed: set[int] = set()  # keys of the ids whose last record is an error
    repeated: set[int] = set()  # keys of the ids with several records (rows run again)
    for line in recover(plan.journal_path):
        row_id = record_id(line, plan.openai)
        if not done.add(row_id):
            repeated.add(id_key(row_id))
        if job.retry_failed and record_error(line) is not None:
            failed.add(id_key(row_id))
        elif job.retry_failed:
            failed.discard(id_key(row_id))
    total = count_rows(plan.input, plan.fmt, identity["lines"])
    progress = Progress(total, done.count - len(failed), job.progress)
    if manifest.get("complete") and not failed and not repeated:
        return progress.close()
    if failed and manifest.get("complete"):
        manifest["complete"] = False  # until the rows run again are written and compacted
        journal_mod.write_manifest(plan.folder, manifest)
    media = MediaSink(plan.output, job.binary)
    journal = journal_mod.Journal(plan.journal_path, job.fsync)
    aborted: str | None = None

    seen = DoneIds(plan.ordinal)

    def rows() -> Iterator[Row]:
        for row in read_rows(plan.input, plan.fmt, plan.mapper):
            if row.id in done and not (failed and id_key(row.id) in failed):
                continue
            if not seen.add(row.id):
                raise InputFileError(
                    f"the id {row.id!r} appears twice in the input: ids must be unique"
                )
            yield row

    def on_finished(line: bytes, error: ErrorInfo | None, attempts: int, ms: float) -> None:
        journal.append_line(line)
        progress.update(error, attempts, ms)

    def on_result(result: RowResult) -> None:
        journal.append(record(result, plan.openai, media))
        progress.update(result.error, result.attempts, result.latency_ms)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(journal.interval)
            journal.flush_if_due()

    options = EngineOptions(job.concurrency, job.rps, job.fatal_after, dict(job.params))
    client = None if job.workers > 1 else job.client or _client(job)
    tick = asyncio.ensure_future(ticker())
    try:
        if client is not None:
            await run_rows(client, plan.op.method, rows(), on_result, options)
        else:
            spec = WorkerSpec(
                plan.op.method, job.model, dict(job.client_options), options, plan.openai,
                plan.output, job.binary,
            )  # fmt: skip
            await run_in_workers(spec, job.workers, rows(), on_result, on_finished)
    except (FatalError, InputFileError) as exc:
        aborted = str(exc)
        raise
    except BaseException as exc:  # interrupted (Ctrl-C, cancelled) or failed: not complete
        aborted = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise
    finally:
        tick.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await tick
        journal.close()
        if job.client is None and client is not None:
            await client.close()
        summary = progress.close(aborted)
        if aborted is None:
            several = repeated | failed
            records = journal_mod.last_records(plan.journal_path, several, plan.id_of)
            if plan.out_fmt == "parquet":
                write_parquet(records, plan.output, plan.ordinal)
            elif several:
                journal_mod.compact(plan.journal_path, several, plan.id_of)
            manifest["complete"] = True
        manifest["summary"] = summary.to_dict()
        journal_mod.write_manifest(plan.folder, manifest)
    return summary


def _client(job: BatchJob) -> Any:
    return make_client(job.model, job.client_options, job.concurrency)


def make_client(model: str | None, client_options: Mapping[str, Any], concurrency: int) -> Any:
    """The job's `AsyncInferenceClient`: a pool as large as its concurrency (100 at least)."""
    import httpx

    from hfinfer import AsyncInferenceClient

    size = max(concurrency, 100)
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size, keepalive_expiry=5)
    options = {"limits": limits, **client_options}
    return AsyncInferenceClient(model, **options)
