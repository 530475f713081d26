"""A lean HTTP/1.1 keep-alive transport for `httpx.AsyncClient` (asyncio).

httpx's default async transport runs httpcore's pool over anyio; under many concurrent requests
its bookkeeping dominates. Here each connection is an `asyncio.Protocol` with one waiter, idle
connections wait in a per-origin list, and timeouts are `call_later` handles (no extra tasks).
The framing is `_http11`'s, shared with the sync transport. Needs a running asyncio loop; under
another event loop (trio) it hands the request to httpx's own transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx

from hfinfer import _http11
from hfinfer._http11 import ChunkedReader, Head, HeadReader, ProtocolViolation
from hfinfer._pool import (
    KEEPALIVE_EXPIRY,
    WRITE_SIZE,
    IdleConnections,
    Origin,
    encode_head,
    fixed_body,
    framed,
    is_chunked,
    origin_of,
    replayable,
    server_gone,
    slices,
    ssl_context,
    timeouts,
)

CLOSE_WAIT = 1.0
"""Seconds `aclose()` waits for the loop to close a socket (it takes one turn of the loop)."""
HIGH_WATER = 1024 * 1024
"""Stop reading from the socket while this many bytes wait for the caller (bounded memory)."""


class _Closed(Exception):
    """The peer closed the connection."""


class Connection(asyncio.Protocol):
    """One socket: bytes received wait in a buffer for a single reader at a time."""

    def __init__(self, origin: Origin, sock: socket.socket) -> None:
        self.origin = origin
        self.sock = sock
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reused = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] = self.loop.create_future()
        self._paused = False

    def itself(self) -> Connection:
        """The protocol factory asyncio asks for: this connection."""
        return self

    # -- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None and not self._paused:
            self._paused = True
            self.transport.pause_reading()
        self._wake(self._waiter)

    def eof_received(self) -> bool:
        self.eof = True
        self._wake(self._waiter)
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.eof = True
        self.error = exc
        self._wake(self._waiter)
        self._wake(self._drain)
        self._wake(self._lost)

    def pause_writing(self) -> None:
        self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        self._wake(self._drain)
        self._drain = None

    @staticmethod
    def _wake(future: asyncio.Future[None] | None) -> None:
        if future is not None and not future.done():
            future.set_result(None)

    # -- used by the transport ---------------------------------------------------------------

    def usable(self, now: float) -> bool:
        """Idle, open, fresh, and on the running loop (a client may outlive an `asyncio.run`)."""
        return (
            self.loop is asyncio.get_running_loop()
            and not self.eof
            and not self.buffer
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since <= KEEPALIVE_EXPIRY
        )

    async def write(self, data: bytes | memoryview, timeout: float | None) -> None:
        """Write, then wait (up to `timeout`) while asyncio's buffer is above its high mark."""
        if self.transport is None or self.transport.is_closing():
            raise _Closed
        self.transport.write(data)
        if self._drain is not None:
            await _wait(self._drain, timeout)
            if self.eof:
                raise _Closed

    async def read(self, timeout: float | None) -> bytes:
        """The bytes received so far, waiting for some; b"" at the end of the stream."""
        if not self.buffer and not self.eof:
            self._waiter = self.loop.create_future()
            try:
                await _wait(self._waiter, timeout)
            finally:
                self._waiter = None
        data = bytes(self.buffer)
        self.buffer.clear()
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        if not data and self.error is not None:
            raise _Closed from self.error
        return data

    def unread(self, data: bytes) -> None:
        self.buffer[:0] = data

    def close(self) -> None:
        """Close gracefully (what is buffered is still sent): for idle connections."""
        if self.loop.is_closed():
            self.sock.close()  # its loop is gone: asyncio can no longer close it
        elif self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Close at once, dropping anything not yet sent: for cancelled or failed requests."""
        if self.loop.is_closed():
            self.sock.close()
        elif self.transport is not None:
            self.transport.abort()

    async def aclose(self) -> None:
        """Close now, and return once the socket is closed (asyncio closes it on a later turn
        of the loop): a server sees a stream's cancellation before `aclose()` returns."""
        if self.transport is None or self.loop.is_closed():
            self.abort()
            return
        self.transport.abort()  # nothing of ours is left to flush
        with contextlib.suppress(TimeoutError):
            await _wait(asyncio.shield(self._lost), CLOSE_WAIT)


async def _wait(future: asyncio.Future[None], timeout: float | None) -> None:
    if timeout is None:
        await future
        return
    handle = asyncio.get_running_loop().call_later(timeout, _expire, future)
    try:
        await future
    finally:
        handle.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


class AsyncHTTPTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over keep-alive asyncio connections."""

    def __init__(self, *, trust_env: bool = True, max_keepalive: int = 64) -> None:
        self._trust_env = trust_env
        self._idle: IdleConnections[Connection] = IdleConnections(max_keepalive)
        self._ssl: ssl.SSLContext | None = None
        self._fallback: httpx.AsyncHTTPTransport | None = None

    def checkin(self, conn: Connection) -> None:
        if not self._idle.put(conn):
            conn.close()

    async def _connect(
        self, origin: Origin, request: httpx.Request, timeout: float | None
    ) -> Connection:
        if origin[0] == "https" and self._ssl is None:
            self._ssl = ssl_context(self._trust_env)
        try:
            if timeout is None:
                return await self._open(origin)
            return await asyncio.wait_for(self._open(origin), timeout)
        except (TimeoutError, asyncio.TimeoutError) as exc:
            raise httpx.ConnectTimeout("connect timed out", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc

    async def _open(self, origin: Origin) -> Connection:
        """Connect a socket of our own (kept, so it can be closed even after its loop has
        closed), then hand it to asyncio, with TLS for https."""
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        error: OSError | None = None
        for family, kind, proto, _, address in await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.sock_connect(sock, address)
                tls: dict[str, Any] = (
                    {"ssl": self._ssl, "server_hostname": host} if scheme == "https" else {}
                )
                protocol = Connection(origin, sock)
                await loop.create_connection(protocol.itself, sock=sock, **tls)
                return protocol
            except OSError as exc:
                sock.close()
                error = exc
            except BaseException:
                sock.close()
                raise
        raise error or OSError(f"cannot resolve {host!r}")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._idle.closed:
            raise RuntimeError("the transport is closed")
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): httpx's own transport works there
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport(trust_env=self._trust_env)
            return await self._fallback.handle_async_request(request)
        origin = origin_of(request.url)
        connect_t, read_t, write_t = timeouts(request)
        payload = fixed_body(request)
        while True:
            conn = self._idle.take(origin) or await self._connect(origin, request, connect_t)
            try:
                head = await self._exchange(conn, request, payload, read_t, write_t)
            except _Stale as exc:
                conn.abort()
                if replayable(request, payload):
                    continue  # a reused connection the server had closed: send on a new one
                raise server_gone(request) from exc
            except BaseException:
                conn.abort()  # cancelled or failed: nothing more of this request goes out
                raise
            return httpx.Response(
                head.status,
                headers=head.headers,
                stream=ResponseBody(self, conn, head, request, read_t),
                extensions={"http_version": head.http_version, "reason_phrase": head.reason},
                request=request,
            )

    async def _exchange(
        self,
        conn: Connection,
        request: httpx.Request,
        payload: bytes | None,
        read_t: float | None,
        write_t: float | None,
    ) -> Head:
        try:
            await self._send(conn, request, payload, write_t)
        except httpx.WriteError as write_error:
            # The server may have answered early (413, 401…) and closed: that answer wins.
            try:
                head = await self._receive_head(conn, request, read_t)
            except (httpx.TransportError, _Stale):
                raise write_error from None
            head.keep_alive = False
            return head
        return await self._receive_head(conn, request, read_t)

    async def _send(
        self, conn: Connection, request: httpx.Request, payload: bytes | None, timeout: float | None
    ) -> None:
        try:
            head = encode_head(request)
            if payload is not None and len(payload) <= WRITE_SIZE:
                await conn.write(head + payload, timeout)
                return
            await conn.write(head, timeout)
            if payload is not None:
                for piece in slices(payload):
                    await conn.write(piece, timeout)
                return
            chunked = is_chunked(request)
            if chunked or "content-length" in request.headers:
                async for part in request.stream:  # type: ignore[union-attr]
                    for framed_piece in framed(part, chunked):
                        await conn.write(framed_piece, timeout)
            if chunked:
                await conn.write(_http11.LAST_CHUNK, timeout)
        except TimeoutError as exc:
            raise httpx.WriteTimeout("write timed out", request=request) from exc
        except (_Closed, OSError) as exc:
            if conn.reused:
                raise _Stale from exc
            raise httpx.WriteError(str(exc) or "connection closed", request=request) from exc

    async def _receive_head(
        self, conn: Connection, request: httpx.Request, timeout: float | None
    ) -> Head:
        reader = HeadReader(request.method.encode("ascii"))
        head = None
        try:
            while head is None:
                chunk = await _read(conn, request, timeout)
                if not chunk:
                    if conn.reused:  # not a byte of an answer on a reused connection
                        raise _Stale
                    raise server_gone(request)
                conn.reused = False
                head = reader.feed(chunk)
        except ProtocolViolation as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        if reader.rest:
            conn.unread(reader.rest)
        return head

    async def aclose(self) -> None:
        for conn in self._idle.clear():
            conn.close()
        if self._fallback is not None:
            await self._fallback.aclose()


class _Stale(Exception):
    """A reused keep-alive connection turned out closed before the server read anything."""


async def _read(conn: Connection, request: httpx.Request, timeout: float | None) -> bytes:
    """Bytes received, b"" at EOF; a reused connection failing before any answer is stale."""
    try:
        return await conn.read(timeout)
    except TimeoutError as exc:
        raise httpx.ReadTimeout("read timed out", request=request) from exc
    except _Closed as exc:
        if conn.reused:
            raise _Stale from exc
        raise httpx.ReadError(str(exc.__cause__ or "connection closed"), request=request) from exc


class ResponseBody(httpx.AsyncByteStream):
    """The body as it arrives; the connection goes back to the pool when read whole."""

    def __init__(
        self,
        transport: AsyncHTTPTransport,
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

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        length = self._head.length
        try:
            if length == -1:
                async for piece in self._chunked(conn):
                    yield piece
            elif length is None:
                while data := await _read(conn, self._request, self._timeout):
                    yield data
                self._conn = None
                conn.close()
            else:
                async for piece in self._sized(conn, length):
                    yield piece
        except ProtocolViolation as exc:
            raise httpx.RemoteProtocolError(str(exc), request=self._request) from exc
        finally:
            if self._conn is not None:
                await self.aclose()

    async def _sized(self, conn: Connection, length: int) -> AsyncIterator[bytes]:
        left = length
        while left > 0:
            data = await _read(conn, self._request, self._timeout)
            if not data:
                raise ProtocolViolation(
                    f"Server closed the connection with {left} of {length} body bytes unread."
                )
            if len(data) > left:
                conn.unread(data[left:])
                data = data[:left]
            left -= len(data)
            yield data
        self._finish(conn)

    async def _chunked(self, conn: Connection) -> AsyncIterator[bytes]:
        reader = ChunkedReader()
        while True:
            data = await _read(conn, self._request, self._timeout)
            if not data:
                raise ProtocolViolation("Server closed the connection inside a chunked body.")
            for piece in reader.feed(data):
                yield piece
            if reader.done:
                if reader.leftover:
                    conn.unread(reader.leftover)
                self._finish(conn)
                return

    def _finish(self, conn: Connection) -> None:
        self._conn = None
        if self._head.keep_alive and not conn.buffer:
            self._transport.checkin(conn)
        else:
            conn.close()

    async def aclose(self) -> None:
        """Called by httpx when the response is closed: a half-read connection is not reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.aclose()
