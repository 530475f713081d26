"""Batch inference: one task method over many rows, resumable, with files in and files out.

    from hfinfer.batch import BatchJob, run_job
    summary = run_job(BatchJob("feature_extraction", "in.jsonl", "out.jsonl",
                               model="http://127.0.0.1:8080", concurrency=64, resume=True))

- `run_rows` is the engine: an `AsyncInferenceClient` method over an iterator of `Row`s with
  bounded concurrency, an optional rate limit and a `RowResult` per row (errors as data).
- `run_job` adds the files: OpenAI Batch JSONL, plain JSONL, CSV and Parquet in; OpenAI Batch
  JSONL, plain JSONL or Parquet out; an append-only journal, a manifest and a lock, so that a
  killed job resumes with every id written exactly once.

The command line (`hfinfer batch …`) and the Ray Data stage (`hfinfer.ray`) are faces over these.
CSV and Parquet need `pip install 'hfinfer[batch]'` (pyarrow), the progress bar tqdm.
"""

from hfinfer.batch._convert import MediaSink, to_plain
from hfinfer.batch._engine import (
    DEFAULT_CONCURRENCY,
    EngineOptions,
    ErrorInfo,
    FatalError,
    RateLimiter,
    Row,
    RowResult,
    call_row,
    run_rows,
)
from hfinfer.batch._inputs import InputFileError, Mapper
from hfinfer.batch._job import (
    BatchJob,
    find_operation,
    operations_by_method,
    run_job,
    run_job_async,
)
from hfinfer.batch._journal import JobStateError
from hfinfer.batch._progress import Summary

__all__ = [
    "DEFAULT_CONCURRENCY",
    "BatchJob",
    "EngineOptions",
    "ErrorInfo",
    "FatalError",
    "InputFileError",
    "JobStateError",
    "Mapper",
    "MediaSink",
    "RateLimiter",
    "Row",
    "RowResult",
    "Summary",
    "call_row",
    "find_operation",
    "operations_by_method",
    "run_job",
    "run_job_async",
    "run_rows",
    "to_plain",
]
