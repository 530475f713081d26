"""A scripted raw-socket server on 127.0.0.1: each exchange answers with exact bytes."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

CLOSE_AFTER = b"x-close-after: 1"
"""A reply carrying this header is followed by the server closing the connection."""

Reply = Callable[[bytes], bytes | None]
"""Given the raw request, the bytes to send back (None: close the connection without answering)."""


def _recv(sock: socket.socket, record: bytearray | None) -> bytes:
    data = sock.recv(65536)
    if record is not None:
        record += data
    return data


def read_request(
    sock: socket.socket, buffer: bytearray, record: bytearray | None = None
) -> bytes | None:
    """One request (head and Content-Length or chunked body) from the socket, or None at EOF.

    Every byte read is also appended to `record` when one is given.
    """
    while b"\r\n\r\n" not in buffer:
        data = _recv(sock, record)
        if not data:
            return None
        buffer += data
    end = buffer.index(b"\r\n\r\n") + 4
    head = bytes(buffer[:end]).lower()
    length = 0
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if b"transfer-encoding: chunked" in head:
        while not buffer.endswith(b"0\r\n\r\n"):
            data = _recv(sock, record)
            if not data:
                return None
            buffer += data
        request = bytes(buffer)
        buffer.clear()
        return request
    while len(buffer) < end + length:
        data = _recv(sock, record)
        if not data:
            return None
        buffer += data
    request = bytes(buffer[: end + length])
    del buffer[: end + length]
    return request


class RawServer:
    """Answers the n-th request with `replies[n]` (the last one repeats); records everything."""

    def __init__(self, replies: list[Reply], tls: ssl.SSLContext | None = None) -> None:
        self.replies = replies
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed_by_client = 0
        """Connections on which the server read EOF (the client closed them)."""
        self.open = 0
        """Connections the server has accepted and not yet closed (for any reason)."""
        self.received: list[bytearray] = []
        """Every byte received, one bytearray per connection (complete requests or not)."""
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self.open += 1
            thread = threading.Thread(target=self._counted, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _counted(self, conn: socket.socket) -> None:
        try:
            self._handle(conn)
        finally:
            with self._lock:
                self.open -= 1

    def _handle(self, conn: socket.socket) -> None:
        buffer = bytearray()
        record = bytearray()
        with self._lock:
            self.received.append(record)
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        with conn:
            while True:
                try:
                    request = read_request(conn, buffer, record)
                except OSError:
                    with self._lock:
                        self.closed_by_client += 1  # a reset is the client closing too
                    return
                if request is None:
                    with self._lock:
                        self.closed_by_client += 1
                    return
                with self._lock:
                    index = len(self.requests)
                    self.requests.append(request)
                reply = self.replies[min(index, len(self.replies) - 1)](request)
                if reply is None:
                    return
                try:
                    conn.sendall(reply)
                except OSError:
                    return
                if CLOSE_AFTER in reply:
                    return  # an idle keep-alive connection the server drops

    def wait_closed_by_client(self, n: int, timeout: float = 5.0) -> int:
        """Wait until the client has closed `n` connections; return how many it has closed."""
        deadline = time.monotonic() + timeout
        while self.closed_by_client < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.closed_by_client

    def wait_open(self, n: int, timeout: float = 5.0) -> int:
        """Wait until `n` connections are open on the server's side; return how many are."""
        deadline = time.monotonic() + timeout
        while self.open != n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open

    def wait_all_closed(self, connections: int = 1, timeout: float = 5.0) -> bool:
        """Wait until the server has accepted at least `connections` and none is open."""
        deadline = time.monotonic() + timeout
        while (self.connections < connections or self.open) and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connections >= connections and not self.open

    def close(self) -> None:
        self._sock.close()


@contextmanager
def raw_server(*replies: Reply, tls: ssl.SSLContext | None = None) -> Iterator[RawServer]:
    server = RawServer(list(replies), tls)
    try:
        yield server
    finally:
        server.close()


def respond(body: bytes, *, status: str = "200 OK", headers: str = "") -> Reply:
    """A fixed reply with Content-Length."""
    head = f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{headers}\r\n".encode()
    return lambda request: head + body


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)
CHAT_EVENT = (
    b'data: {"choices":[{"delta":{"content":"tok"},"index":0}],"created":1,"id":"c","model":"m"}'
    b"\n\n"
)


def sse(events: Iterable[bytes] = (CHAT_EVENT,) * 3, *, end: bool = True) -> Reply:
    """A chat SSE stream ending with `[DONE]`, all in one write; `end=False` leaves the body
    open after `[DONE]` (no last chunk: the server then waits for the client)."""
    body = b"".join(chunk(e) for e in events) + chunk(b"data: [DONE]\n\n")
    reply = SSE_HEAD + body + (b"0\r\n\r\n" if end else b"")
    return lambda request: reply
