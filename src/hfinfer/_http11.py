"""HTTP/1.1 framing, with no I/O: the request head, the response head, and how the body ends.

Shared by the sync and async connection pools (`_pool.py`, `_apool.py`). Errors are raised as
`ProtocolViolation` with a message; the pools turn them into httpx's `RemoteProtocolError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_HEAD = 256 * 1024
"""Bytes allowed for a status line and headers before the server is considered broken."""

_NO_BODY_STATUSES = frozenset({204, 304})


class ProtocolViolation(Exception):
    """The peer does not speak HTTP/1.1 as we expect it to."""


def may_be_http(data: bytes) -> bool:
    """False as soon as the first bytes show the peer is not answering in HTTP/1.x."""
    return b"HTTP/1."[: len(data)] == data[:7]


def not_http(data: bytes) -> str:
    if not may_be_http(data):
        return f"the server did not answer in HTTP/1.x: {data[:40]!r}"
    return f"response head larger than {MAX_HEAD} bytes"


def request_head(method: bytes, target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The request line and headers, ending with the blank line."""
    lines = [method + b" " + target + b" HTTP/1.1"]
    for name, value in headers:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise ValueError(f"header {name!r} contains a line break")
        lines.append(name + b": " + value)
    lines.append(b"\r\n")
    return b"\r\n".join(lines)


class Head:
    """A parsed response head."""

    __slots__ = ("headers", "http_version", "keep_alive", "length", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: bytes,
        http_version: bytes,
        headers: list[tuple[bytes, bytes]],
        length: int | None,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.length = -1 if chunked else length
        """-1: chunked; None: until the connection closes; else the Content-Length."""
        self.keep_alive = keep_alive


_HEAD_END = re.compile(rb"\r?\n\r?\n")
_LINE = re.compile(rb"\r?\n")
_DIGITS = re.compile(rb"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


def head_end(data: bytes, start: int = 0) -> tuple[int, int] | None:
    """Where the head in `data` ends (the blank line's start and end), searching from `start`.

    CRLF is the standard; a bare LF is tolerated, as RFC 9112 allows a recipient to.
    """
    match = _HEAD_END.search(data, max(0, start))
    return None if match is None else (match.start(), match.end())


def _lines(data: bytes) -> list[bytes]:
    """Header lines, with obsolete line folding undone (a continuation joins with one space)."""
    lines: list[bytes] = []
    for line in _LINE.split(data):
        if line[:1] in (b" ", b"\t") and len(lines) > 1:
            lines[-1] += b" " + line.strip()
        else:
            lines.append(line)
    return lines


def parse_head(data: bytes, method: bytes) -> Head:
    """Parse the bytes before the blank line (excluded) of a response."""
    lines = _lines(data)
    status_line = lines[0]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not _DIGITS.fullmatch(parts[1]):
        raise ProtocolViolation(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    status = int(parts[1])
    if not 100 <= status <= 999:
        raise ProtocolViolation(f"bad status code in {status_line[:80]!r}")
    version = parts[0]
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    chunked = False
    connection = b""
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProtocolViolation(f"malformed header line {line[:80]!r}")
        value = value.strip()
        headers.append((name, value))
        lower = name.lower()
        if lower == b"content-length":
            if not _DIGITS.fullmatch(value) or (length is not None and length != int(value)):
                raise ProtocolViolation(f"bad Content-Length {value[:40]!r}")
            length = int(value)
        elif lower == b"transfer-encoding":
            chunked = value.lower().endswith(b"chunked")
        elif lower == b"connection":
            connection += b"," + value.lower()
    keep_alive = (
        b"keep-alive" in connection if version == b"HTTP/1.0" else b"close" not in connection
    )
    if chunked and length is not None:
        keep_alive = False  # both framings announced: read it as chunked, then do not trust it
    if status == 101:
        keep_alive = False  # the connection now speaks another protocol
    if method == b"HEAD" or status in _NO_BODY_STATUSES or 100 <= status < 200:
        length, chunked = 0, False
    elif not chunked and length is None:
        keep_alive = False  # the body ends when the server closes the connection
    reason = parts[2] if len(parts) > 2 else b""
    return Head(status, reason, version, headers, length, chunked, keep_alive)


class HeadReader:
    """Incremental reader of a response head: feed raw bytes, get the final head.

    Interim answers (100 Continue…) are skipped; bytes after the head are left in `rest`. A
    peer that is plainly not speaking HTTP/1.x, or a head over MAX_HEAD, is a violation.
    """

    __slots__ = ("_data", "_method", "rest")

    def __init__(self, method: bytes) -> None:
        self._method = method
        self._data = b""
        self.rest = b""

    def feed(self, chunk: bytes) -> Head | None:
        data = self._data + chunk
        bounds = head_end(data, len(self._data) - 3)
        while True:
            if bounds is None:
                if len(data) > MAX_HEAD or not may_be_http(data):
                    raise ProtocolViolation(not_http(data))
                self._data = data
                return None
            head = parse_head(data[: bounds[0]], self._method)
            data = data[bounds[1] :]
            if not (100 <= head.status < 200 and head.status != 101):
                self._data, self.rest = b"", data
                return head
            bounds = head_end(data)  # an interim answer: the real one follows


class ChunkedReader:
    """Incremental decoder of a chunked body: feed raw bytes, get body bytes."""

    __slots__ = ("_buffer", "_left", "_trailers", "done", "leftover")

    def __init__(self) -> None:
        self._buffer = b""
        self._left = 0  # bytes of the current chunk's data still to come
        self._trailers = False
        self.done = False
        self.leftover = b""
        """Bytes after the end of the body (a pipelining server's next response)."""

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        buffer = self._buffer + data if self._buffer else data
        pos = 0
        end = len(buffer)
        while pos < end and not self.done:
            if self._left > 0:
                take = min(self._left, end - pos)
                out.append(buffer[pos : pos + take])
                pos += take
                self._left -= take
                if self._left == 0:
                    self._left = -2  # the CRLF after the data
                continue
            if self._left == -2:
                if end - pos < 2:
                    break
                if buffer[pos : pos + 2] != b"\r\n":
                    raise ProtocolViolation("chunk data not followed by CRLF")
                pos += 2
                self._left = 0
                continue
            newline = buffer.find(b"\r\n", pos)
            if newline < 0:
                if end - pos > 4096:
                    raise ProtocolViolation("chunk size line too long")
                break
            line = buffer[pos:newline]
            pos = newline + 2
            if self._trailers:
                if not line:
                    self.done = True
                continue
            size_text = line.split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise ProtocolViolation(f"bad chunk size {size_text[:20]!r}")
            size = int(size_text, 16)
            if size == 0:
                self._trailers = True
            else:
                self._left = size
        if self.done:
            self.leftover = buffer[pos:]
            self._buffer = b""
        else:
            self._buffer = buffer[pos:]
        return out


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked request body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


LAST_CHUNK = b"0\r\n\r\n"
