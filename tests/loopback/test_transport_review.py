"""Review of hfinfer's HTTP/1.1 transports (`_pool`, `_apool`): edge cases on real sockets.

Each test names the behaviour it expects; where hfinfer differs from httpx's own transport, the
docstring says what httpx does. Servers listen on 127.0.0.1 only and every test is time-bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator

import h11
import httpx
import pytest

from hfinfer._apool import AsyncHTTPTransport
from hfinfer._pool import HTTPTransport

from .rawserver import CLOSE_AFTER, raw_server, respond

pytestmark = pytest.mark.timeout(30)


# -- small servers --------------------------------------------------------------------------------


class Listener:
    """Accepts on 127.0.0.1 and runs `handle(sock)` in a thread per connection."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._handle = handle
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self._handle(conn)

    def close(self) -> None:
        self._sock.close()


@contextlib.contextmanager
def listening(handle: Callable[[socket.socket], None]) -> Iterator[Listener]:
    server = Listener(handle)
    try:
        yield server
    finally:
        server.close()


class StrictServer:
    """A server that parses requests with h11 (as uvicorn does) and answers 200 with the number
    of body bytes it got, or h11's error status (400, 501, ...) when the request is malformed."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.bodies: list[bytes] = []

    def __call__(self, sock: socket.socket) -> None:
        conn = h11.Connection(h11.SERVER)
        body = b""
        sock.settimeout(2)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self.errors.append(str(exc))
                status = exc.error_status_hint
                sock.sendall(
                    f"HTTP/1.1 {status} Bad\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
                )
                return
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.bodies.append(body)
                answer = str(len(body)).encode()
                sock.sendall(
                    conn.send(
                        h11.Response(
                            status_code=200, headers=[("content-length", str(len(answer)))]
                        )
                    )
                    or b""
                )
                sock.sendall(conn.send(h11.Data(data=answer)) or b"")
                sock.sendall(conn.send(h11.EndOfMessage()) or b"")
                body = b""
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


# -- request framing --------------------------------------------------------------------------------


def test_sync_streamed_upload_has_one_transfer_encoding_header(client: httpx.Client) -> None:
    """httpx already puts `Transfer-Encoding: chunked` in a streamed request's headers; the
    transport adds a second one, and h11-based servers (uvicorn) answer 501."""
    strict = StrictServer()
    with listening(strict) as server:
        response = client.post(server.url, content=iter([b"ab", b"cd"]))
    assert strict.errors == []
    assert (response.status_code, response.content) == (200, b"4")


async def test_async_streamed_upload_has_one_transfer_encoding_header(
    aclient: httpx.AsyncClient,
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    strict = StrictServer()
    with listening(strict) as server:
        response = await aclient.post(server.url, content=body())
    assert strict.errors == []
    assert (response.status_code, response.content) == (200, b"4")


def test_sync_streamed_body_on_a_get_is_sent_chunked_as_announced(client: httpx.Client) -> None:
    """A GET with a streamed body is announced as chunked (by httpx) but sent raw."""
    strict = StrictServer()
    with listening(strict) as server:
        response = client.request("GET", server.url, content=iter([b"ab", b"cd"]))
    assert strict.errors == []
    assert (response.status_code, response.content) == (200, b"4")


async def test_async_streamed_body_on_a_get_is_sent_chunked_as_announced(
    aclient: httpx.AsyncClient,
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    strict = StrictServer()
    with listening(strict) as server:
        response = await aclient.request("GET", server.url, content=body())
    assert strict.errors == []
    assert (response.status_code, response.content) == (200, b"4")


def test_sync_fixed_and_json_bodies_pass_a_strict_server(client: httpx.Client) -> None:
    strict = StrictServer()
    with listening(strict) as server:
        assert client.post(server.url, content=b"abc").content == b"3"
        assert client.post(server.url, json={"a": 1}).content == b"7"
        assert client.get(server.url).content == b"0"
        assert client.post(server.url).content == b"0"
    assert strict.errors == []
    assert server.connections == 1


# -- write path -------------------------------------------------------------------------------------

BIG = 12 * 1024 * 1024


def _slow_reader(sock: socket.socket) -> None:
    """Reads the body 64 KiB every 8 ms (a slow uplink), then answers."""
    head, rest = _read_head(sock)
    left = _content_length(head) - len(rest)
    while left > 0:
        data = sock.recv(65536)
        if not data:
            return
        left -= len(data)
        time.sleep(0.008)
    sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")


def test_sync_write_timeout_bounds_each_write_not_the_whole_upload() -> None:
    """httpx's (httpcore's) write timeout is the longest a single send may block; the server
    here never stalls more than ~10 ms, so a 0.5 s write timeout must not fire. `sendall()` on a
    socket with a timeout bounds the *total* time instead, so any upload slower than the write
    timeout fails (and with hfinfer the same number is used for every phase)."""
    timeout = httpx.Timeout(5.0, write=0.5)
    with (
        listening(_slow_reader) as server,
        httpx.Client(transport=HTTPTransport(), timeout=timeout) as http,
    ):
        response = http.post(server.url, content=b"x" * BIG)
    assert response.content == b"ok"


def _early_413(sock: socket.socket) -> None:
    """Answers 413 as soon as the head is in, without reading the body, then hangs up."""
    _read_head(sock)
    sock.sendall(
        b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 8\r\nconnection: close\r\n\r\ntoo big!"
    )
    time.sleep(0.3)


def test_sync_early_error_response_during_upload_is_returned() -> None:
    """A server may answer (413, 401, ...) and close before reading the whole body. httpx's sync
    transport returns that response; hfinfer's raises WriteError (and its retry loop then resends
    the whole upload, and finally reports a connection error instead of the server's 413)."""
    with (
        listening(_early_413) as server,
        httpx.Client(transport=HTTPTransport(), timeout=5) as http,
    ):
        response = http.post(server.url, content=b"x" * (32 * 1024 * 1024))
    assert (response.status_code, response.content) == (413, b"too big!")


async def test_async_early_error_response_during_upload_is_returned() -> None:
    """As above, async. (httpx's anyio transport raises ReadError here, but the response has
    already arrived in the connection's buffer when the write fails.)"""
    with listening(_early_413) as server:
        async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=5) as http:
            response = await http.post(server.url, content=b"x" * (32 * 1024 * 1024))
    assert (response.status_code, response.content) == (413, b"too big!")


class _Sink:
    """Reads nothing for 1 s (the client's write blocks), then counts what arrives until EOF."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.done = threading.Event()

    def __call__(self, sock: socket.socket) -> None:
        time.sleep(1.0)
        sock.settimeout(10)
        total = 0
        try:
            while data := sock.recv(1 << 20):
                total += len(data)
        finally:
            self.received.append(total)
            self.done.set()


UPLOAD = 32 * 1024 * 1024


async def _wait_done(sink: _Sink) -> None:
    for _ in range(200):
        if sink.done.is_set():
            return
        await asyncio.sleep(0.05)


async def test_async_cancelled_upload_is_not_finished_in_the_background() -> None:
    """Cancelling a request mid-upload must abort the connection. `conn.close()` is
    `transport.close()`, which first flushes asyncio's write buffer: the rest of the body is sent
    after the cancellation and the server gets (and processes) a complete request. The socket also
    stays open for as long as the server does not read."""
    sink = _Sink()
    with listening(sink) as server:
        async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=10) as http:
            with pytest.raises((asyncio.TimeoutError, TimeoutError)):
                await asyncio.wait_for(http.post(server.url, content=b"x" * UPLOAD), 0.3)
            await _wait_done(sink)
    assert sink.received and sink.received[0] < UPLOAD


async def test_async_write_timeout_aborts_the_connection() -> None:
    sink = _Sink()
    with listening(sink) as server:
        timeout = httpx.Timeout(10.0, write=0.3)
        async with httpx.AsyncClient(transport=AsyncHTTPTransport(), timeout=timeout) as http:
            with pytest.raises(httpx.WriteTimeout):
                await http.post(server.url, content=b"x" * UPLOAD)
            await _wait_done(sink)
    assert sink.received and sink.received[0] < UPLOAD


def test_sync_write_timeout_closes_the_connection() -> None:
    sink = _Sink()
    timeout = httpx.Timeout(10.0, write=0.3)
    with (
        listening(sink) as server,
        httpx.Client(transport=HTTPTransport(), timeout=timeout) as http,
    ):
        with pytest.raises(httpx.WriteTimeout):
            http.post(server.url, content=b"x" * UPLOAD)
        assert sink.done.wait(10)
    assert sink.received[0] < UPLOAD


# -- reused connections -----------------------------------------------------------------------------


def _then_hang_up(request: bytes) -> bytes | None:
    return None  # the server read the request, then closed without answering


def _pieces() -> Iterator[bytes]:
    yield b"ab"
    yield b"cd"


@pytest.mark.parametrize("kind", ["generator", "iterator"])
def test_sync_streamed_upload_on_a_dropped_reused_connection_is_not_resent_wrong(
    client: httpx.Client, kind: str
) -> None:
    """A reused connection that closes after the request was sent is taken for a stale idle
    socket and the request is resent. A streamed body cannot be resent: from a generator httpx's
    `StreamConsumed` (a RuntimeError, not an `httpx.TransportError`) escapes; from a plain
    iterator the resend silently carries an *empty* body and its answer is returned as the
    answer to the original request. httpx's transport raises RemoteProtocolError. (A fixed-size
    POST is sent twice.)"""
    content = _pieces() if kind == "generator" else iter([b"ab", b"cd"])
    with raw_server(respond(b"first"), _then_hang_up, respond(b"third")) as server:
        assert client.get(server.url).content == b"first"
        try:
            client.post(server.url, content=content)
        except httpx.TransportError:
            return
        except httpx.StreamError as exc:
            pytest.fail(f"{type(exc).__name__} escaped instead of an httpx.TransportError")
    bodies = [r.partition(b"\r\n\r\n")[2] for r in server.requests[1:]]
    assert bodies == [b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n"] * len(bodies)


async def test_async_streamed_upload_on_a_dropped_reused_connection_is_a_transport_error(
    aclient: httpx.AsyncClient,
) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    with raw_server(respond(b"first"), _then_hang_up, respond(b"third")) as server:
        assert (await aclient.get(server.url)).content == b"first"
        await asyncio.sleep(0.05)
        try:
            await aclient.post(server.url, content=body())
        except httpx.TransportError:
            pass
        except httpx.StreamError as exc:
            pytest.fail(f"{type(exc).__name__} escaped instead of an httpx.TransportError")


@pytest.fixture
def high_fds() -> Iterator[None]:
    """Occupy the file descriptors below 1100, so that new sockets get numbers above 1024."""
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        if hard != resource.RLIM_INFINITY and hard < 2048:
            pytest.skip("RLIMIT_NOFILE too low")
        resource.setrlimit(resource.RLIMIT_NOFILE, (2048, hard))
    read, write = os.pipe()
    fillers = [read, write]
    while fillers[-1] < 1100:
        fillers.append(os.dup(read))
    try:
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        if soft < 2048:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_sync_keep_alive_works_with_file_descriptors_above_1024(
    high_fds: None, client: httpx.Client
) -> None:
    """`Connection.usable` checks an idle socket with `select.select`, which raises ValueError for
    descriptors >= FD_SETSIZE (1024); the error is taken for "dead" and no connection is ever
    reused in a process with many open files (httpcore uses poll())."""
    with raw_server(respond(b"one"), respond(b"two")) as server:
        assert client.get(server.url).content == b"one"
        assert client.get(server.url).content == b"two"
    assert server.connections == 1


def test_sync_extra_bytes_after_a_body_are_not_taken_for_the_next_response(
    client: httpx.Client,
) -> None:
    extra = respond(b"one")(b"") + b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale"
    with raw_server(lambda r: extra, respond(b"two")) as server:
        assert client.get(server.url).content == b"one"
        assert client.get(server.url).content == b"two"
    assert server.connections == 2


async def test_async_extra_bytes_after_a_body_are_not_taken_for_the_next_response(
    aclient: httpx.AsyncClient,
) -> None:
    extra = respond(b"one")(b"") + b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale"
    with raw_server(lambda r: extra, respond(b"two")) as server:
        assert (await aclient.get(server.url)).content == b"one"
        assert (await aclient.get(server.url)).content == b"two"
    assert server.connections == 2


def test_sync_partly_read_body_is_not_reused(client: httpx.Client) -> None:
    with raw_server(respond(b"x" * 100_000), respond(b"two")) as server:
        with client.stream("GET", server.url) as response:
            next(response.iter_raw(10))
        assert client.get(server.url).content == b"two"
    assert server.connections == 2


async def test_async_partly_read_body_is_not_reused(aclient: httpx.AsyncClient) -> None:
    with raw_server(respond(b"x" * 100_000), respond(b"two")) as server:
        async with aclient.stream("GET", server.url) as response:
            async for _ in response.aiter_raw(10):
                break
        assert (await aclient.get(server.url)).content == b"two"
    assert server.connections == 2


def test_sync_head_and_304_keep_the_connection(client: httpx.Client) -> None:
    with raw_server(
        lambda r: b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        lambda r: b"HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\n\r\n",
        respond(b"after"),
    ) as server:
        assert client.head(server.url).content == b""
        assert client.get(server.url).status_code == 304
        assert client.get(server.url).content == b"after"
    assert server.connections == 1


def test_sync_response_finished_after_transport_close_closes_its_socket() -> None:
    transport = HTTPTransport()
    with raw_server(respond(b"body")) as server:
        http = httpx.Client(transport=transport, timeout=5)
        with http.stream("GET", server.url) as response:
            transport.close()
            assert response.read() == b"body"
        assert transport._idle._by_origin.get(("http", "127.0.0.1", server.port)) in (None, [])


# -- response heads ---------------------------------------------------------------------------------

FOLDED = b"HTTP/1.1 200 OK\r\nx-a: one\r\n two\r\ncontent-length: 2\r\n\r\nok"
BARE_LF = b"HTTP/1.1 200 OK\ncontent-length: 2\n\nok"


@pytest.mark.parametrize("reply", [FOLDED, BARE_LF], ids=["obs-fold", "bare-lf"])
def test_sync_tolerated_head_forms(client: httpx.Client, reply: bytes) -> None:
    """RFC 9112 §5.2: a user agent must unfold obs-fold lines; §2.2: a recipient may accept a
    bare LF as line terminator. httpx (h11) reads both; hfinfer raises RemoteProtocolError for
    the first and waits for the read timeout on the second."""
    with raw_server(lambda r: reply) as server:
        response = client.get(server.url, timeout=1)
    assert response.content == b"ok"


@pytest.mark.parametrize("reply", [FOLDED, BARE_LF], ids=["obs-fold", "bare-lf"])
async def test_async_tolerated_head_forms(aclient: httpx.AsyncClient, reply: bytes) -> None:
    with raw_server(lambda r: reply) as server:
        response = await aclient.get(server.url, timeout=1)
    assert response.content == b"ok"


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\ncontent-length: 0_2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0_2\r\nok\r\n0\r\n\r\n",
    ],
    ids=["cl-underscore", "cl-plus", "chunk-0x", "chunk-underscore"],
)
def test_sync_number_syntax_is_strict(client: httpx.Client, reply: bytes) -> None:
    """Content-Length is 1*DIGIT and a chunk size 1*HEXDIG; `int()` also takes `+`, `_` and
    `0x`, so framing that h11 rejects is read as valid (a desync / smuggling vector)."""
    with (
        raw_server(lambda r: reply + CLOSE_AFTER) as server,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get(server.url)


def test_sync_duplicate_headers_and_case_are_kept(client: httpx.Client) -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-Thing:  v \t\r\n"
        b"CONTENT-LENGTH: 2\r\n\r\nok"
    )
    with raw_server(lambda r: reply) as server:
        response = client.get(server.url)
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.headers["x-thing"] == "v"
    assert response.content == b"ok"


def test_sync_head_too_large_is_a_protocol_error(client: httpx.Client) -> None:
    huge = b"HTTP/1.1 200 OK\r\n" + b"x-big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    with (
        raw_server(lambda r: huge + CLOSE_AFTER) as server,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get(server.url)


# -- threads, cancellation, event loops ---------------------------------------------------------------


def test_sync_transport_is_shared_safely_by_threads() -> None:
    def echo_path(request: bytes) -> bytes:
        path = request.split(b" ", 2)[1]
        return respond(path)(request)

    errors: list[BaseException] = []
    with (
        raw_server(echo_path) as server,
        httpx.Client(transport=HTTPTransport(), timeout=5) as http,
    ):

        def work(n: int) -> None:
            try:
                for i in range(40):
                    path = f"/{n}/{i}"
                    assert http.get(server.url + path).content == path.encode()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert errors == []
    assert server.connections <= 12


async def test_async_cancelled_mid_body_closes_the_socket(aclient: httpx.AsyncClient) -> None:
    closed = threading.Event()

    def trickle(sock: socket.socket) -> None:
        _read_head(sock)
        sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nabc")
        sock.settimeout(10)
        with contextlib.suppress(OSError):
            sock.recv(1)  # b"" or a reset once the client has closed
        closed.set()

    with listening(trickle) as server:

        async def read_all() -> bytes:
            return (await aclient.get(server.url)).content

        with pytest.raises((asyncio.TimeoutError, TimeoutError)):
            await asyncio.wait_for(read_all(), 0.3)
        for _ in range(40):
            if closed.is_set():
                break
            await asyncio.sleep(0.05)
    assert closed.is_set()


def test_async_connection_left_by_a_finished_loop_is_closed() -> None:
    """Idle connections of a finished `asyncio.run` are dropped on the next loop, and their
    socket is closed then (asyncio can no longer close it once its loop is closed)."""
    transport = AsyncHTTPTransport()
    http = httpx.AsyncClient(transport=transport, timeout=5)
    with raw_server(respond(b"a")) as server:

        async def first() -> None:
            await http.get(server.url)

        async def second() -> None:
            await http.get(server.url)
            await http.aclose()

        asyncio.run(first())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)  # asyncio's own transport object
            asyncio.run(second())
        deadline = time.monotonic() + 5
        while server.closed_by_client < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert server.connections == 2
    assert server.closed_by_client == 2  # the first loop's socket too, without waiting for GC
