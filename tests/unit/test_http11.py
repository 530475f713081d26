"""HTTP/1.1 framing without I/O: response heads, chunked bodies split anywhere."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hfinfer._http11 import (
    ChunkedReader,
    HeadReader,
    ProtocolViolation,
    may_be_http,
    parse_head,
    request_head,
)


def test_request_head() -> None:
    head = request_head(b"POST", b"/m?x=1", [(b"Host", b"h"), (b"Content-Length", b"2")])
    assert head == b"POST /m?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
    with pytest.raises(ValueError, match="line break"):
        request_head(b"GET", b"/", [(b"X", b"a\r\nInjected: 1")])


@pytest.mark.parametrize(
    ("raw", "method", "length", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5", b"GET", 5, True),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked", b"GET", -1, True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1", b"GET", 1, False),
        (b"HTTP/1.1 200 OK", b"GET", None, False),  # until close
        (b"HTTP/1.0 200 OK\r\nContent-Length: 1", b"GET", 1, False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1", b"GET", 1, True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9", b"HEAD", 0, True),
        (b"HTTP/1.1 304 Not Modified", b"GET", 0, True),
        (b"HTTP/1.1 500 ", b"GET", None, False),
    ],
)
def test_parse_head_framing(
    raw: bytes, method: bytes, length: int | None, keep_alive: bool
) -> None:
    head = parse_head(raw, method)
    assert (head.length, head.keep_alive) == (length, keep_alive)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"ICY 200 OK",
        b"HTTP/1.1 20x OK",
        b"HTTP/1.1 200 OK\r\n: empty name",
        b"HTTP/1.1 200 OK\r\n bad: folded",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2",
        b"HTTP/1.1 200 OK\r\nContent-Length: x",
    ],
)
def test_parse_head_rejects(raw: bytes) -> None:
    with pytest.raises(ProtocolViolation):
        parse_head(raw, b"GET")


def encode_chunked(pieces: list[bytes]) -> bytes:
    out = b"".join(b"%x;e=1\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    return out + b"0\r\nTrailer: x\r\n\r\n"


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.binary(max_size=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
    after=st.binary(max_size=10),
)
def test_chunked_split_anywhere(pieces: list[bytes], cuts: list[int], after: bytes) -> None:
    wire = encode_chunked(pieces) + after
    points = sorted({min(c, len(wire)) for c in cuts})
    reader = ChunkedReader()
    body = b""
    start = 0
    for point in [*points, len(wire)]:
        if not reader.done:
            body += b"".join(reader.feed(wire[start:point]))
        start = point
    assert reader.done
    assert body == b"".join(pieces)
    assert reader.leftover == after[: len(reader.leftover)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_chunked_garbage_raises_only_protocol_violation(data: bytes) -> None:
    reader = ChunkedReader()
    with contextlib.suppress(ProtocolViolation):
        reader.feed(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_parse_head_garbage_raises_only_protocol_violation(data: bytes) -> None:
    with contextlib.suppress(ProtocolViolation):
        parse_head(data, b"GET")


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"", True), (b"HT", True), (b"HTTP/1.1 200", True), (b"SSH-2.0", False), (b"\x00", False)],
)
def test_not_http_is_detected_from_the_first_bytes(data: bytes, expected: bool) -> None:
    assert may_be_http(data) is expected


@settings(max_examples=300, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=120), max_size=8), lf=st.booleans())
def test_head_reader_split_anywhere(cuts: list[int], lf: bool) -> None:
    wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\nbody"
    if lf:
        wire = wire.replace(b"\r\n", b"\n")
    points = sorted({min(c, len(wire)) for c in cuts})
    reader = HeadReader(b"POST")
    head = None
    start = 0
    for point in [*points, len(wire)]:
        if head is None:
            head = reader.feed(wire[start:point])
            start = point
    assert head is not None
    assert (head.status, head.length) == (201, 4)
    assert reader.rest + wire[start:] == b"body"


def test_head_reader_rejects_non_http_and_oversized_heads() -> None:
    with pytest.raises(ProtocolViolation, match="did not answer in HTTP"):
        HeadReader(b"GET").feed(b"SSH-2.0-x\r\n")
    reader = HeadReader(b"GET")
    with pytest.raises(ProtocolViolation, match="larger than"):
        reader.feed(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (300 * 1024))
