"""The job's state on disk: a manifest, a lock, and the append-only journal of finished rows.

Layout, for an output `out.jsonl`: `out.jsonl.hfinfer/manifest.json` (what the job is: method,
model, parameters, the input's fingerprint; written atomically: tmp, fsync, rename, fsync of the
folder) and `out.jsonl.hfinfer/lock` (held with `flock` while a process works on the job). The
journal is the JSONL output itself (or `journal.jsonl` in the state folder when the output is
Parquet, written from it at the end).

The journal has one writer (the event loop). Finished lines are buffered and written with one
`write()` per group (`group_size` lines or `interval` seconds, whichever comes first): a write
survives a killed process, so at most the rows in flight and one group are redone after a
`kill -9`. `fsync` says what survives an OS crash too: "none", "group" (fdatasync per group, the
default) or "every" (one write and fdatasync per row).

Recovery truncates a torn last line (bytes after the last newline, or a last line that is not
JSON), and reads the ids already done, so that a resumed job skips them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

Fsync = Literal["none", "group", "every"]
FSYNC_POLICIES: tuple[Fsync, ...] = ("none", "group", "every")
GROUP_SIZE = 64
GROUP_INTERVAL = 0.1
_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""One encoder for every journal line (json.dumps with options makes one per call)."""


def encode_line(record: dict[str, Any]) -> bytes:
    """A record as one journal line (compact JSON, UTF-8, newline-terminated)."""
    return _LINE.encode(record).encode() + b"\n"


class JobStateError(RuntimeError):
    """The job's folder refuses this run: locked by another process, or made for other input."""


def state_dir(output: Path) -> Path:
    return output.with_name(output.name + ".hfinfer")


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / "manifest.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise JobStateError(f"{path} is not a job manifest")
    return data


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    """Replace the manifest atomically: a reader sees the old one or the new one, whole."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    tmp = folder / "manifest.json.tmp"
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Lock:
    """An exclusive `flock` on the job's lock file, released when the process ends, however."""

    def __init__(self, folder: Path) -> None:
        import fcntl

        folder.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(folder / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise JobStateError(
                f"another hfinfer batch process is working on this job ({folder})"
            ) from None

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def id_key(row_id: Any) -> int:
    """A row id as a 64-bit key (ids may be any JSON value)."""
    text = json.dumps(row_id, ensure_ascii=False).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


class DoneIds:
    """The ids already in the journal: a bitmap for row numbers, 64-bit hashes for named ids.

    A bitmap costs 1 bit per row (125 kB per million); a named id about 60 bytes.
    """

    def __init__(self, ordinal: bool) -> None:
        self.ordinal = ordinal
        self._bits = bytearray()
        self._keys: set[int] = set()
        self.count = 0

    @staticmethod
    def _key(row_id: Any) -> int:
        return id_key(row_id)

    def __contains__(self, row_id: Any) -> bool:
        if self.ordinal and isinstance(row_id, int):
            byte = row_id >> 3
            return byte < len(self._bits) and bool(self._bits[byte] & (1 << (row_id & 7)))
        return self._key(row_id) in self._keys

    def add(self, row_id: Any) -> bool:
        """Add an id; False when it was there already."""
        if row_id in self:
            return False
        if self.ordinal and isinstance(row_id, int):
            byte = row_id >> 3
            if byte >= len(self._bits):
                self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
            self._bits[byte] |= 1 << (row_id & 7)
        else:
            self._keys.add(self._key(row_id))
        self.count += 1
        return True


def recover(path: Path) -> Iterator[dict[str, Any]]:
    """Repair a journal's tail after a crash, then yield its records in order.

    A torn last line is cut off; an unreadable line anywhere else is corruption, not a crash,
    and raises `JobStateError`.
    """
    if not path.exists():
        return
    with path.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        keep = size
        if size:
            step = 1 << 16
            position = size
            while position > 0:
                start = max(0, position - step)
                handle.seek(start)
                chunk = handle.read(position - start)
                at = chunk.rfind(b"\n")
                if at >= 0:
                    keep = start + at + 1
                    break
                position = start
            else:
                keep = 0
        if keep != size:
            handle.truncate(keep)
    offset = 0
    last_good = 0
    with path.open("rb") as handle:
        for line in handle:
            offset += len(line)
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                if offset == keep:  # the last line: torn by a crash mid-write
                    with path.open("r+b") as fix:
                        fix.truncate(last_good)
                    return
                raise JobStateError(f"{path}: line at byte {last_good} is not a record") from None
            last_good = offset
            yield record


def last_records(
    path: Path, keys: set[int], id_of: Callable[[dict[str, Any]], Any]
) -> Iterator[dict[str, Any]]:
    """The journal's records, with only the last one of each id in `keys` (the ids that may
    have several: rows run again by `retry_failed`). Two passes; memory holds `keys` only."""
    last: dict[int, int] = {}
    if keys:
        for index, record in enumerate(recover(path)):
            key = id_key(id_of(record))
            if key in keys:
                last[key] = index
    for index, record in enumerate(recover(path)):
        if not keys:
            yield record
            continue
        key = id_key(id_of(record))
        if key not in keys or last[key] == index:
            yield record


def compact(path: Path, keys: set[int], id_of: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite a JSONL journal with one record per id (the last), atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        for record in last_records(path, keys, id_of):
            handle.write(encode_line(record))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The one writer of the journal file: buffered groups, `O_APPEND`, the fsync policy."""

    def __init__(
        self,
        path: Path,
        fsync: Fsync = "group",
        group_size: int = GROUP_SIZE,
        interval: float = GROUP_INTERVAL,
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"`fsync` must be one of {', '.join(FSYNC_POLICIES)}, not {fsync!r}")
        self.path = path
        self.fsync = fsync
        self.group_size = 1 if fsync == "every" else group_size
        self.interval = interval
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._buffer: list[bytes] = []
        self._since = time.monotonic()

    def append(self, record: dict[str, Any]) -> None:
        self.append_line(encode_line(record))

    def append_line(self, line: bytes) -> None:
        """A record already encoded by `encode_line` (a worker process's)."""
        self._buffer.append(line)
        if len(self._buffer) >= self.group_size:
            self.flush()

    def flush_if_due(self) -> None:
        if self._buffer and time.monotonic() - self._since >= self.interval:
            self.flush()

    def flush(self) -> None:
        self._since = time.monotonic()
        if not self._buffer:
            return
        data = memoryview(b"".join(self._buffer))
        self._buffer.clear()
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
        if self.fsync != "none":
            os.fdatasync(self._fd) if hasattr(os, "fdatasync") else os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.close(self._fd)
            self._fd = -1
