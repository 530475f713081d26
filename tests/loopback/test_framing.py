"""Bad framing, both ways, on every engine, against a raw loopback server that records every byte.

- A request that cannot be framed as valid HTTP raises before anything reaches the server: a
  streamed body longer than its Content-Length (the excess is never sent), CR or LF in a method
  or in a header's name or value (`InferenceRequestError` through hfinfer's clients).
- A response whose framing is ambiguous or invalid is rejected as a typed error
  (`InferenceConnectionError`): two Transfer-Encoding headers, a coding after or instead of
  chunked, a NUL in a header value.
- The caller's own `Connection: close` is sent as given and honoured: the connection is not
  reused.

Where an engine (aiohttp's llhttp parser, httpcore/h11) falls short, the case is an
`xfail(strict=True)` that says exactly what the engine does.
"""

from __future__ import annotations

from typing import Any

import h11
import httpx
import pytest

from hfinfer import InferenceConnectionError, InferenceRequestError
from tests.faults.calls import Flavour, Runner

from .engines import Http
from .rawserver import RawServer, chunk, raw_server, respond

pytestmark = pytest.mark.timeout(30)

LABELS = b'[{"label":"POSITIVE","score":0.9}]'


def _nothing_sent(server: RawServer) -> None:
    """The server got no byte at all (an engine may have opened the connection first)."""
    assert server.requests == []
    assert all(bytes(received) == b"" for received in server.received), server.received


def _xfail(request: pytest.FixtureRequest, when: bool, reason: str) -> None:
    if when:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


# -- a streamed body longer than its Content-Length -----------------------------------------------

OVERRUN_ERROR: dict[str, type[Exception]] = {
    "sync": h11.LocalProtocolError,
    "aiohttp": httpx.LocalProtocolError,
    "httpx-async": h11.LocalProtocolError,
}
"""What each engine raises: httpcore sends a request body without mapping h11's errors, so on
httpx's transports h11's own LocalProtocolError escapes httpx (not an `httpx.HTTPError`)."""


def test_streamed_body_longer_than_its_content_length_never_sends_the_excess(
    flavour: Flavour,
) -> None:
    with raw_server(respond(b"ok")) as server:
        runner = Runner(flavour)
        pieces = [b"abcde", b"EXCESS-BYTES"]

        def overrun(client: Any) -> Any:
            headers = {"content-length": "5"}
            if flavour == "sync":
                return client.http.post(server.url, content=iter(pieces), headers=headers)

            async def body() -> Any:
                for piece in pieces:
                    yield piece

            return client.http.post(server.url, content=body(), headers=headers)

        try:
            outcome = runner.do(overrun)
        finally:
            runner.close()
        assert type(outcome.error) is OVERRUN_ERROR[flavour], outcome.describe()
        assert server.wait_all_closed(1)  # accepted, read, and closed by the client
    sent = b"".join(bytes(r) for r in server.received)
    assert sent.endswith(b"\r\ncontent-length: 5\r\n\r\nabcde") or sent.endswith(
        b"\r\nContent-Length: 5\r\n\r\nabcde"
    )
    assert b"EXCESS" not in sent


def test_streamed_body_longer_than_its_content_length_is_an_httpx_error(
    http: Http, request: pytest.FixtureRequest
) -> None:
    _xfail(
        request,
        http.flavour != "aiohttp",
        "httpcore (1.0.9) does not map h11.LocalProtocolError raised while sending a request"
        " body: h11's error escapes httpx untyped (the excess is not sent)",
    )
    with (
        raw_server(respond(b"ok")) as server,
        pytest.raises(httpx.LocalProtocolError, match="Content-Length"),
    ):
        http.post(server.url, chunks=[b"abcde", b"EXCESS"], headers={"content-length": "5"})


# -- CR, LF (and NUL) in the request head ---------------------------------------------------------

BAD_HEADERS = {
    "name-crlf": {"x-bad\r\nname": "v"},
    "name-lf": {"x-bad\nname": "v"},
    "name-cr": {"x-bad\rname": "v"},
    "value-crlf-injection": {"x-a": "v\r\nx-injected: 1"},
    "value-cr": {"x-a": "v\rw"},
    "value-lf": {"x-a": "v\nw"},
    "value-nul": {"x-a": "v\x00w"},
}


@pytest.mark.parametrize("headers", list(BAD_HEADERS.values()), ids=list(BAD_HEADERS))
def test_control_characters_in_a_header_raise_before_sending(
    flavour: Flavour, headers: dict[str, str]
) -> None:
    with raw_server(respond(LABELS)) as server:
        runner = Runner(flavour, headers=headers, max_retries=2)
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
        # httpcore connects first, then h11 refuses to write the head, and closes; aiohttp does
        # the same for a bad value, and hfinfer's adapter refuses a bad name before connecting
        bad_name = any(not name.isprintable() for name in headers)
        assert server.wait_all_closed(0 if flavour == "aiohttp" and bad_name else 1)
    error = outcome.error
    assert isinstance(error, InferenceRequestError), outcome.describe()
    assert isinstance(error, ValueError)
    assert error.attempts == 1  # never retried: sending it again cannot help
    assert isinstance(error.__cause__, httpx.LocalProtocolError)
    assert "could not be sent as HTTP" in str(error)
    _nothing_sent(server)


@pytest.mark.parametrize("method", ["GET\r\nX", "GE\nT", "PO\rST", "GET /x HTTP/1.1\r\n\r\nGET"])
def test_control_characters_in_the_method_raise_before_sending(http: Http, method: str) -> None:
    with raw_server(respond(LABELS)) as server:
        with pytest.raises(httpx.LocalProtocolError):
            http.request(method, server.url)
        # aiohttp checks the method before connecting; httpcore connects, then h11 refuses it
        assert server.wait_all_closed(0 if http.flavour == "aiohttp" else 1)
        assert server.connections == (0 if http.flavour == "aiohttp" else 1)
    _nothing_sent(server)


@pytest.mark.parametrize("name", ["x a", "x:a", "x(a)", "x\ta"])
def test_a_header_name_that_is_not_a_token_raises_before_sending(
    flavour: Flavour, name: str, request: pytest.FixtureRequest
) -> None:
    """RFC 9110 §5.1: a field name is a token (no space, colon, parenthesis, tab...)."""
    # aiohttp itself refuses only CR, LF and NUL in a name (it would send `x:a: v`, which a
    # server reads as header `x`); hfinfer's adapter checks the name before connecting.
    with raw_server(respond(LABELS)) as server:
        runner = Runner(flavour, headers={name: "v"}, max_retries=0)
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
        assert server.wait_all_closed(0 if flavour == "aiohttp" else 1)
    assert isinstance(outcome.error, InferenceRequestError), outcome.describe()
    _nothing_sent(server)


# -- responses with bad framing -------------------------------------------------------------------

CLOSE = "x-close-after: 1\r\n"  # the raw server closes the connection after such a reply


def _chunked(te: str, extra: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{te}{extra}{CLOSE}\r\n"
    return head.encode() + chunk(LABELS) + b"0\r\n\r\n"


BAD_RESPONSES = {
    "two-transfer-encodings": _chunked(
        "transfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n"
    ),
    "gzip-then-chunked": _chunked("transfer-encoding: gzip, chunked\r\n"),
    "notchunked": (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: notchunked"
        f"\r\n{CLOSE}\r\n".encode()
        + LABELS
    ),
    "nul-in-header-value": (
        f"HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: {len(LABELS)}\r\n{CLOSE}\r\n".encode()
        + LABELS
    ),
    "transfer-encoding-and-content-length": _chunked(
        "transfer-encoding: chunked\r\n", f"content-length: {len(LABELS)}\r\n"
    ),
}

ACCEPTED: dict[str, dict[str, str]] = {
    # aiohttp's parser (llhttp) accepts two `Transfer-Encoding: chunked`, `gzip, chunked`
    # (handing the body over still gzip-coded) and `notchunked` (read to close): hfinfer's
    # adapter refuses any Transfer-Encoding but one `chunked`, as h11 does.
    "transfer-encoding-and-content-length": {
        "sync": "h11 accepts a response with both Transfer-Encoding and Content-Length (the"
        " chunked framing wins); RFC 9112 §6.3 says it ought to be handled as an error, as"
        " aiohttp does",
        "httpx-async": "h11 accepts a response with both Transfer-Encoding and Content-Length;"
        " aiohttp rejects it",
    },
}
"""The engines that accept a bad response, and what they do with it."""


@pytest.mark.parametrize("reply", list(BAD_RESPONSES.values()), ids=list(BAD_RESPONSES))
def test_bad_response_framing_is_a_typed_connection_error(
    flavour: Flavour, reply: bytes, request: pytest.FixtureRequest
) -> None:
    case = _case_id(request)
    reason = ACCEPTED.get(case, {}).get(flavour)
    _xfail(request, reason is not None, reason or "")
    with raw_server(lambda r: reply) as server:
        runner = Runner(flavour, max_retries=0, timeout=3)
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
        assert server.wait_open(0) == 0
    assert isinstance(outcome.error, InferenceConnectionError), outcome.describe()
    assert isinstance(outcome.error.__cause__, httpx.RemoteProtocolError)


def _case_id(request: pytest.FixtureRequest) -> str:
    """The BAD_RESPONSES key of the running test (its id is `{flavour}-{case}`)."""
    test_id = request.node.callspec.id
    for case in BAD_RESPONSES:
        if test_id.endswith(case):
            return case
    raise AssertionError(test_id)


# -- Connection: close from the caller ------------------------------------------------------------


def test_the_callers_connection_close_is_sent_and_honoured(flavour: Flavour) -> None:
    with raw_server(respond(LABELS)) as server:
        runner = Runner(flavour, headers={"Connection": "close"})
        try:
            for n in range(1, 3):
                outcome = runner.call("classify", server.url)
                assert outcome.error is None, outcome.describe()
                assert server.wait_closed_by_client(n) == n  # closed after the answer
        finally:
            runner.close()
    assert server.connections == 2  # not reused
    for sent in server.requests:
        head = sent.partition(b"\r\n\r\n")[0].lower()
        assert head.count(b"\r\nconnection:") == 1
        assert b"\r\nconnection: close" in head
