"""A lean HTTP/1.1 keep-alive transport for `httpx.Client` (sync).

httpx's default transport goes through httpcore's general connection pool and h11's state
machine; most of a small request's client-side time goes there. This transport keeps the httpx
API (requests, responses, exceptions, respx mocking through the client) and does the wire work
itself: one socket per request at a time, idle sockets kept per origin, framing in `_http11`.
Used for the clients hfinfer creates (no proxy); a user's own `http_client` is used as given.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, Generic, Protocol, TypeVar

import httpx

from hfinfer import _http11
from hfinfer._http11 import ChunkedReader, Head, HeadReader, ProtocolViolation

READ_SIZE = 256 * 1024
WRITE_SIZE = 64 * 1024
KEEPALIVE_EXPIRY = 5.0

Origin = tuple[str, str, int]


def ssl_context(trust_env: bool) -> ssl.SSLContext:
    """The same verification httpx applies by default (certifi, or SSL_CERT_FILE/DIR)."""
    return httpx.create_ssl_context(trust_env=trust_env)


def origin_of(url: httpx.URL) -> Origin:
    scheme = url.scheme
    port = url.port or (443 if scheme == "https" else 80)
    return (scheme, url.host, port)


def timeouts(request: httpx.Request) -> tuple[float | None, float | None, float | None]:
    """(connect, read, write) from the request's httpx timeout extension."""
    t: dict[str, Any] = request.extensions.get("timeout") or {}
    return t.get("connect"), t.get("read"), t.get("write")


def fixed_body(request: httpx.Request) -> bytes | None:
    """The whole body when it is in memory with a known length (else it is streamed)."""
    stream = request.stream
    if "content-length" in request.headers and isinstance(stream, httpx.ByteStream):
        return b"".join(stream)  # one item; a redirected request has no `.content` of its own
    return None


def is_chunked(request: httpx.Request) -> bool:
    """httpx announces a streamed body with `Transfer-Encoding: chunked`: frame it so."""
    return str(request.headers.get("transfer-encoding", "")).lower() == "chunked"


def replayable(request: httpx.Request, payload: bytes | None) -> bool:
    """The request can be sent again as it was: no body, or a body held in memory."""
    headers = request.headers
    has_body = "transfer-encoding" in headers or str(headers.get("content-length", "0")) != "0"
    return payload is not None or not has_body


def encode_head(request: httpx.Request) -> bytes:
    return _http11.request_head(
        request.method.encode("ascii"), request.url.raw_path, request.headers.raw
    )


def slices(data: bytes) -> Iterator[memoryview]:
    """`data` in WRITE_SIZE pieces, so that a write timeout bounds each write, not the upload."""
    view = memoryview(data)
    for start in range(0, len(view), WRITE_SIZE):
        yield view[start : start + WRITE_SIZE]


def framed(part: bytes, chunked: bool) -> Iterator[bytes | memoryview]:
    """A part of a streamed body as it goes out: WRITE_SIZE slices, each a chunk if chunked."""
    for piece in slices(part):
        yield _http11.chunk(bytes(piece)) if chunked else piece


def server_gone(request: httpx.Request) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        "Server disconnected without sending a response.", request=request
    )


def _readable(sock: socket.socket) -> bool:
    """Whether a read would not block; poll() where it exists (select() stops at fd 1024)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class Connection:
    """One socket and the bytes read from it past the current response."""

    __slots__ = ("buffer", "idle_since", "origin", "reused", "sock", "timeout")

    def __init__(self, sock: socket.socket, origin: Origin) -> None:
        self.sock = sock
        self.origin = origin
        self.buffer = b""
        self.idle_since = 0.0
        self.reused = False
        self.timeout: float | None = -1.0

    def set_timeout(self, value: float | None) -> None:
        if value != self.timeout:
            self.sock.settimeout(value)
            self.timeout = value

    def usable(self, now: float) -> bool:
        """An idle connection can be reused: not expired, and the server has not closed it."""
        if now - self.idle_since > KEEPALIVE_EXPIRY:
            return False
        try:
            return not _readable(self.sock)  # readable while idle: EOF or stray bytes, drop it
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Reusable(Protocol):
    """What `IdleConnections` needs of a connection (sync or asyncio)."""

    origin: Origin
    reused: bool
    idle_since: float

    def usable(self, now: float) -> bool: ...

    def close(self) -> None: ...


C = TypeVar("C", bound=Reusable)


class IdleConnections(Generic[C]):
    """Idle keep-alive connections by origin; the most recently used one is reused first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._by_origin: dict[Origin, list[C]] = {}
        self.closed = False

    def take(self, origin: Origin) -> C | None:
        """A usable idle connection to `origin` (dropping dead ones on the way), or None."""
        idle = self._by_origin.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.usable(now):
                conn.reused = True
                return conn
            conn.close()
        return None

    def put(self, conn: C) -> bool:
        """Keep `conn` for reuse; False when it must be closed instead (closed, or full)."""
        idle = self._by_origin.setdefault(conn.origin, [])
        if self.closed or len(idle) >= self._limit:
            return False
        conn.idle_since = time.monotonic()
        idle.append(conn)
        return True

    def clear(self) -> list[C]:
        """Close for good: no more connections kept; the idle ones are returned to be closed."""
        self.closed = True
        conns = [c for idle in self._by_origin.values() for c in idle]
        self._by_origin.clear()
        return conns


class HTTPTransport(httpx.BaseTransport):
    """HTTP/1.1 over keep-alive sockets; thread-safe."""

    def __init__(self, *, trust_env: bool = True, max_keepalive: int = 64) -> None:
        self._trust_env = trust_env
        self._idle: IdleConnections[Connection] = IdleConnections(max_keepalive)
        self._lock = threading.Lock()
        self._ssl: ssl.SSLContext | None = None

    # -- connections -------------------------------------------------------------------------

    def _checkout(self, origin: Origin) -> Connection | None:
        with self._lock:
            return self._idle.take(origin)

    def checkin(self, conn: Connection) -> None:
        with self._lock:
            kept = self._idle.put(conn)
        if not kept:
            conn.close()

    def _connect(self, origin: Origin, request: httpx.Request, timeout: float | None) -> Connection:
        scheme, host, port = origin
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._ssl is None:
                    self._ssl = ssl_context(self._trust_env)
                sock = self._ssl.wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise httpx.ConnectTimeout(
                str(exc) or "TLS handshake timed out", request=request
            ) from exc
        except OSError as exc:
            sock.close()
            raise httpx.ConnectError(str(exc), request=request) from exc
        conn = Connection(sock, origin)
        conn.timeout = timeout
        return conn

    # -- one exchange ------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._idle.closed:
            raise RuntimeError("the transport is closed")
        origin = origin_of(request.url)
        connect_t, read_t, write_t = timeouts(request)
        payload = fixed_body(request)
        while True:
            conn = self._checkout(origin) or self._connect(origin, request, connect_t)
            try:
                head = self._exchange(conn, request, payload, read_t, write_t)
            except _StaleConnection as exc:
                conn.close()
                if replayable(request, payload):
                    continue  # a reused socket the server had closed: send again on a new one
                raise server_gone(request) from exc
            except BaseException:
                conn.close()
                raise
            return httpx.Response(
                head.status,
                headers=head.headers,
                stream=ResponseBody(self, conn, head, request, read_t),
                extensions={"http_version": head.http_version, "reason_phrase": head.reason},
                request=request,
            )

    def _exchange(
        self,
        conn: Connection,
        request: httpx.Request,
        payload: bytes | None,
        read_t: float | None,
        write_t: float | None,
    ) -> Head:
        try:
            self._send(conn, request, payload, write_t)
        except httpx.WriteError as write_error:
            # The server may have answered early (413, 401…) and closed: that answer wins.
            try:
                head = self._receive_head(conn, request, read_t)
            except (httpx.TransportError, _StaleConnection):
                raise write_error from None
            head.keep_alive = False
            return head
        return self._receive_head(conn, request, read_t)

    def _send(
        self, conn: Connection, request: httpx.Request, payload: bytes | None, timeout: float | None
    ) -> None:
        conn.set_timeout(timeout)
        sock = conn.sock
        try:
            head = encode_head(request)
            if payload is not None and len(payload) <= WRITE_SIZE:
                sock.sendall(head + payload)
                return
            sock.sendall(head)
            if payload is not None:
                for piece in slices(payload):
                    sock.sendall(piece)
                return
            chunked = is_chunked(request)
            if chunked or "content-length" in request.headers:
                for part in request.stream:  # type: ignore[union-attr]
                    for framed_piece in framed(part, chunked):
                        sock.sendall(framed_piece)
            if chunked:
                sock.sendall(_http11.LAST_CHUNK)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "write timed out", request=request) from exc
        except OSError as exc:
            if conn.reused:
                raise _StaleConnection from exc
            raise httpx.WriteError(str(exc), request=request) from exc

    def _receive_head(
        self, conn: Connection, request: httpx.Request, timeout: float | None
    ) -> Head:
        conn.set_timeout(timeout)
        reader = HeadReader(request.method.encode("ascii"))
        data, conn.buffer = conn.buffer, b""
        try:
            head = reader.feed(data)
            while head is None:
                chunk = recv(conn, request)
                if not chunk:
                    if conn.reused:  # not a byte of an answer on a reused socket
                        raise _StaleConnection
                    raise server_gone(request)
                conn.reused = False  # the server answered: no longer a stale-socket suspect
                head = reader.feed(chunk)
        except ProtocolViolation as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        conn.buffer = reader.rest
        return head

    def close(self) -> None:
        with self._lock:
            idle = self._idle.clear()
        for conn in idle:
            conn.close()


class _StaleConnection(Exception):
    """A reused keep-alive socket turned out closed before the server read anything."""


def recv(conn: Connection, request: httpx.Request) -> bytes:
    """Bytes from the socket, b"" at EOF; a reused socket failing before any answer is stale."""
    try:
        return conn.sock.recv(READ_SIZE)
    except TimeoutError as exc:
        raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
    except OSError as exc:
        if conn.reused:
            raise _StaleConnection from exc
        raise httpx.ReadError(str(exc), request=request) from exc


class ResponseBody(httpx.SyncByteStream):
    """The body as it arrives; the socket goes back to the pool when the body was read whole."""

    def __init__(
        self,
        transport: HTTPTransport,
        conn: Connection,
        head: Head,
        request: httpx.Request,
        timeout: float | None,
    ) -> None:
        self._transport = transport
        self._conn: Connection | None = conn
        self._head = head
        self._request = request
        self._timeout = timeout

    def __iter__(self) -> Iterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        conn.set_timeout(self._timeout)
        length = self._head.length
        try:
            if length == -1:
                yield from self._chunked(conn)
            elif length is None:
                yield from self._until_close(conn)
            else:
                yield from self._sized(conn, length)
        except ProtocolViolation as exc:
            raise httpx.RemoteProtocolError(str(exc), request=self._request) from exc
        finally:
            self.close()  # nothing left to do when the body was read whole

    def _sized(self, conn: Connection, length: int) -> Iterator[bytes]:
        data, conn.buffer = conn.buffer[:length], conn.buffer[length:]
        left = length - len(data)
        if data:
            yield data
        while left > 0:
            chunk = recv(conn, self._request)
            if not chunk:
                raise ProtocolViolation(
                    f"Server closed the connection with {left} of {length} body bytes unread."
                )
            if len(chunk) > left:
                chunk, conn.buffer = chunk[:left], chunk[left:]
            left -= len(chunk)
            yield chunk
        self._finish(conn)

    def _chunked(self, conn: Connection) -> Iterator[bytes]:
        reader = ChunkedReader()
        data, conn.buffer = conn.buffer, b""
        while True:
            if data:
                yield from reader.feed(data)
                if reader.done:
                    conn.buffer = reader.leftover
                    self._finish(conn)
                    return
            data = recv(conn, self._request)
            if not data:
                raise ProtocolViolation("Server closed the connection inside a chunked body.")

    def _until_close(self, conn: Connection) -> Iterator[bytes]:
        data, conn.buffer = conn.buffer, b""
        while data:
            yield data
            data = recv(conn, self._request)
        self._conn = None
        conn.close()

    def _finish(self, conn: Connection) -> None:
        self._conn = None
        if self._head.keep_alive and not conn.buffer:
            self._transport.checkin(conn)
        else:
            conn.close()

    def close(self) -> None:
        """Called by httpx when the response is closed: a half-read socket cannot be reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
