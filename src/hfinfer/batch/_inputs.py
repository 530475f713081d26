"""Input files as streams of rows: OpenAI Batch JSONL, plain JSONL, CSV and Parquet.

- OpenAI Batch JSONL: one `{"custom_id", "method", "url", "body"}` per line. The body is the
  request the method would send: its keys are matched to the method's arguments by their wire
  path (`inputs`, `parameters.top_k`, `messages`, …) or by argument name. `url` is echoed, not
  followed: the server is the job's `--model`. `model` in the body names the model only for
  methods that send a model name (chat); elsewhere it is ignored.
- Plain JSONL, CSV, Parquet: one row per line/record, columns named for the method's arguments;
  the id is the `id_column`'s value, else the row number (0-based). CSV and Parquet are read by
  pyarrow in record batches, never hand-parsed; nothing reads a whole file into memory.

A row that cannot become arguments (an unknown field, a JSON cell that does not parse) is
recorded as that row's `InferenceInputError`; a file that cannot be read (invalid JSON, a
missing id) stops the job with `InputFileError`, naming the line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from hfinfer._operation import Arg, Operation
from hfinfer.batch._engine import Row
from hfinfer.errors import InferenceInputError

InputFormat = Literal["openai", "jsonl", "csv", "parquet"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("openai", "jsonl", "csv", "parquet")
_JSON_EXTS = (".jsonl", ".json", ".ndjson")
_BATCH_ROWS = 4096


class InputFileError(ValueError):
    """The input file cannot be read as the format it is taken for."""


def detect_format(path: Path, given: str | None = None) -> InputFormat:
    """The input's format: `given`, else by extension (a JSONL file by its first record)."""
    if given is not None:
        if given not in INPUT_FORMATS:
            raise ValueError(
                f"`input_format` must be one of {', '.join(INPUT_FORMATS)}, not {given!r}"
            )
        return given
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix not in _JSON_EXTS:
        raise ValueError(
            f"`input` {str(path)!r}: cannot tell its format from the extension; name it .jsonl, "
            ".csv or .parquet, or pass input_format (--input-format)"
        )
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                try:
                    first = json.loads(line)
                except ValueError as exc:
                    raise InputFileError(f"{path}: line 1 is not valid JSON: {exc}") from None
                is_batch = isinstance(first, dict) and "custom_id" in first and "body" in first
                return "openai" if is_batch else "jsonl"
    return "jsonl"


def fingerprint(path: Path) -> dict[str, Any]:
    """The input's identity: size, SHA-256 of its bytes and its line count (one streamed pass)."""
    digest = hashlib.sha256()
    size = lines = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
            lines += block.count(b"\n")
            last = block[-1:]
    if size and last != b"\n":
        lines += 1
    return {"size": size, "sha256": digest.hexdigest(), "lines": lines}


def count_rows(path: Path, fmt: InputFormat, lines: int) -> int | None:
    """How many rows the input holds (for progress): Parquet metadata, else its line count."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if fmt == "csv":
        return max(lines - 1, 0)
    return lines


class Mapper:
    """Turns one record into a `Row` of keyword arguments for the operation's method."""

    def __init__(
        self, op: Operation, id_column: str | None = None, ignore: Iterable[str] = ()
    ) -> None:
        self.op = op
        self.id_column = id_column
        self.ignore = frozenset(ignore)
        streamed = op.stream.when if op.stream else None
        self.args = {a.name: a for a in op.args if a.name != streamed}
        self.streamed = streamed
        self.by_wire: dict[tuple[str, ...], Arg] = {a.wire: a for a in self.args.values()}

    def check_columns(self, columns: Iterable[str], given: Iterable[str] = ()) -> None:
        """Refuse, before any request, columns that name no argument and a missing main input."""
        names = set(columns) - self.ignore - {self.id_column}
        for name in sorted(names):
            if name not in self.args:
                raise self._unknown(name)
        if self.id_column is not None and self.id_column not in set(columns):
            raise InferenceInputError(
                self.op.method, "id_column", f"{self.id_column!r} is not a column of the input"
            )
        missing = [
            a.name
            for a in self.args.values()
            if a.check.required and a.name not in names and a.name not in set(given)
        ]
        if missing:
            raise InferenceInputError(
                self.op.method, missing[0], "is required: the input has no such column"
            )

    def _unknown(self, name: str) -> InferenceInputError:
        known = ", ".join(sorted(self.args))
        hint = " (batch calls are not streamed)" if name == self.streamed else ""
        return InferenceInputError(
            self.op.method,
            name,
            f"is not an argument of {self.op.method}{hint}; expected one of: {known} "
            "(or skip the column with --ignore-column)",
        )

    def plain(self, record: Any, ordinal: int, where: str) -> Row:
        if not isinstance(record, dict):
            raise InputFileError(f"{where}: a row must be a JSON object, not {record!r:.60}")
        if self.id_column is None:
            row_id: Any = ordinal
        elif record.get(self.id_column) is None:
            raise InputFileError(f"{where}: the id column {self.id_column!r} is missing or null")
        else:
            row_id = record[self.id_column]
            if not isinstance(row_id, (str, int)) or isinstance(row_id, bool):
                raise InputFileError(f"{where}: the id must be a string or an integer")
        kwargs: dict[str, Any] = {}
        try:
            for name, value in record.items():
                if name == self.id_column or name in self.ignore or value is None:
                    continue
                arg = self.args.get(name)
                if arg is None:
                    raise self._unknown(name)
                kwargs[name] = self._value(arg, value)
        except InferenceInputError as problem:
            return Row(row_id, {}, problem)
        return Row(row_id, kwargs)

    def openai(self, record: Any, where: str) -> Row:
        if not isinstance(record, dict) or not isinstance(record.get("custom_id"), str):
            raise InputFileError(f"{where}: an OpenAI batch line needs a string `custom_id`")
        row_id = record["custom_id"]
        meta = {"url": record.get("url")}
        try:
            if str(record.get("method", "POST")).upper() != "POST":
                raise InferenceInputError(self.op.method, "method", "must be POST")
            body = record.get("body")
            if not isinstance(body, dict):
                raise InferenceInputError(self.op.method, "body", "must be a JSON object")
            kwargs = self._from_body(body)
        except InferenceInputError as problem:
            return Row(row_id, {}, problem, meta)
        return Row(row_id, kwargs, None, meta)

    def _from_body(self, body: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for key, value in body.items():
            if key == "model":
                if self.op.model_in_body:
                    kwargs["model"] = value
                continue
            if key == self.streamed:
                if value:
                    raise self._unknown(key)
                continue
            arg = self.by_wire.get((key,)) or self.args.get(key)
            if arg is not None:
                kwargs[arg.name] = value
            elif isinstance(value, dict) and any((key, k) in self.by_wire for k in value):
                for sub, inner in value.items():
                    inner_arg = self.by_wire.get((key, sub))
                    if inner_arg is None:
                        raise self._unknown(f"{key}.{sub}")
                    kwargs[inner_arg.name] = inner
            else:
                raise self._unknown(key)
        return kwargs

    def _value(self, arg: Arg, value: Any) -> Any:
        """A cell as the argument's value: JSON text is decoded where a list or object is due."""
        types = set(arg.check.types)
        structured = arg.whole or bool(types & {"list", "dict", "model"}) or not (types or arg.kind)
        if isinstance(value, str) and structured and "str" not in types:
            try:
                return json.loads(value)
            except ValueError:
                raise InferenceInputError(
                    self.op.method, arg.name, f"must be JSON here, not {value!r:.60}"
                ) from None
        return value


def read_rows(path: Path, fmt: InputFormat, mapper: Mapper) -> Iterator[Row]:
    """Stream the rows of an input file, in file order."""
    if fmt in ("openai", "jsonl"):
        yield from _jsonl_rows(path, fmt, mapper)
    elif fmt == "csv":
        import pyarrow.csv as pacsv

        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 20))
        yield from _arrow_rows(iter(reader), mapper, path, first_line=2)
    else:
        import pyarrow.parquet as pq

        batches = pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS)
        yield from _arrow_rows(batches, mapper, path, first_line=1)


def columns_of(path: Path, fmt: InputFormat) -> list[str] | None:
    """The column names of a CSV or Parquet input (None for JSONL, whose keys vary per line)."""
    if fmt == "csv":
        import pyarrow.csv as pacsv

        return list(pacsv.open_csv(path).schema.names)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    return None


def _jsonl_rows(path: Path, fmt: InputFormat, mapper: Mapper) -> Iterator[Row]:
    ordinal = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}, line {number}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise InputFileError(f"{where}: not valid JSON: {exc}") from None
            yield (
                mapper.openai(record, where)
                if fmt == "openai"
                else mapper.plain(record, ordinal, where)
            )
            ordinal += 1


def _arrow_rows(
    batches: Iterator[Any], mapper: Mapper, path: Path, first_line: int
) -> Iterator[Row]:
    ordinal = 0
    for batch in batches:
        for record in batch.to_pylist():
            yield mapper.plain(record, ordinal, f"{path.name}, row {ordinal + first_line}")
            ordinal += 1
