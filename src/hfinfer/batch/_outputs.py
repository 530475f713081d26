"""Output records: the OpenAI Batch output line, the plain record, and Parquet from the journal.

- OpenAI (for an OpenAI Batch input): `{"id", "custom_id", "response", "error"}` as the Batch API
  and `vllm run-batch` write them. A success is `response = {"status_code": 200, "request_id",
  "body": <output as plain JSON>}`, `error = null`. A failure has `error = {"code": <error
  type>, "message", ...}`; when the server answered, `response` holds its status and
  `{"error": {"message", "type"}}` too. hfinfer adds `attempts` and `latency_ms`.
- Plain: `{"id", "output", "error", "attempts", "latency_ms"}`, `error` being null or
  `{"type", "message", "status_code", "request_id", "parameter", "retryable"}`.
- Parquet (plain records only): columns id (int64 for row numbers, else string), output (the
  output's JSON text: results of one method may differ in shape from row to row), error (a
  struct of the fields above), attempts, latency_ms; written by pyarrow in groups of rows.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from hfinfer.batch._convert import MediaSink, to_plain
from hfinfer.batch._engine import ErrorInfo, RowResult

OutputFormat = Literal["jsonl", "parquet"]
_PARQUET_GROUP = 8192


def output_format(path: Path) -> OutputFormat:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ValueError(f"`output` {str(path)!r}: name it .jsonl or .parquet")


def record(result: RowResult, openai: bool, media: MediaSink | None) -> dict[str, Any]:
    """The journal/output line for one finished row."""
    error = result.error
    output = None
    if error is None:
        try:
            output = to_plain(result.output, result.id, media)
        except (TypeError, ValueError, OSError) as exc:
            error = ErrorInfo(type=type(exc).__name__, message=f"cannot write the output: {exc}")
    if not openai:
        return {
            "id": result.id,
            "output": output,
            "error": None if error is None else error.to_dict(),
            "attempts": result.attempts,
            "latency_ms": result.latency_ms,
        }
    line: dict[str, Any] = {
        "id": "batch_req_" + hashlib.sha256(str(result.id).encode()).hexdigest()[:24],
        "custom_id": result.id,
        "response": None,
        "error": None,
    }
    if error is None:
        line["response"] = {"status_code": 200, "request_id": None, "body": output}
    else:
        if error.status_code is not None:
            line["response"] = {
                "status_code": error.status_code,
                "request_id": error.request_id,
                "body": {"error": {"message": error.message, "type": error.type}},
            }
        line["error"] = {"code": error.type, **error.to_dict()}
    line["attempts"] = result.attempts
    line["latency_ms"] = result.latency_ms
    return line


def record_id(line: dict[str, Any], openai: bool) -> Any:
    return line.get("custom_id") if openai else line.get("id")


def record_error(line: dict[str, Any]) -> ErrorInfo | None:
    error = line.get("error")
    if not isinstance(error, dict):
        return None
    if "type" not in error and "code" in error:
        error = {**error, "type": error["code"]}
    return ErrorInfo.from_dict(error)


def write_parquet(records: Iterator[dict[str, Any]], path: Path, ordinal: bool) -> int:
    """Write plain records to `path` as Parquet (tmp + rename); the number of rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    error_type = pa.struct(
        [
            ("type", pa.string()),
            ("message", pa.string()),
            ("status_code", pa.int64()),
            ("request_id", pa.string()),
            ("parameter", pa.string()),
            ("retryable", pa.bool_()),
        ]
    )
    schema = pa.schema(
        [
            ("id", pa.int64() if ordinal else pa.string()),
            ("output", pa.string()),
            ("error", error_type),
            ("attempts", pa.int64()),
            ("latency_ms", pa.float64()),
        ]
    )
    tmp = path.with_name(path.name + ".tmp")
    total = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        group: list[dict[str, Any]] = []

        def put() -> None:
            columns = {
                "id": [r["id"] if ordinal else str(r["id"]) for r in group],
                "output": [
                    None if r.get("output") is None else json.dumps(r["output"]) for r in group
                ],
                "error": [r.get("error") for r in group],
                "attempts": [r.get("attempts") for r in group],
                "latency_ms": [r.get("latency_ms") for r in group],
            }
            writer.write_table(pa.table(columns, schema=schema))
            group.clear()

        for item in records:
            group.append(item)
            total += 1
            if len(group) >= _PARQUET_GROUP:
                put()
        if group:
            put()
    os.replace(tmp, path)
    return total
