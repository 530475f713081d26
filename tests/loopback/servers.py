"""Small socket servers for the engine tests, on 127.0.0.1, besides `rawserver.RawServer`:

- `listening(handle)`: runs `handle(sock)` in a thread per accepted connection;
- `StrictServer`: parses requests with h11 (as uvicorn does) and answers with the body's length,
  or h11's error status when the request is malformed;
- `ForwardProxy`: an HTTP forward proxy for absolute-form requests (`GET http://host:port/path`),
  which counts what it forwards (no CONNECT).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import h11


class Listener:
    """Accepts on 127.0.0.1 and runs `handle(sock)` in a thread per connection."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._handle = handle
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
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


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request head (up to the blank line) and whatever followed it in the same reads."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class StrictServer:
    """Parses requests with h11 and answers 200 with the number of body bytes it got, or h11's
    error status (400, 501, ...) when the request is malformed (`errors` says why)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.bodies: list[bytes] = []
        self.requests: list[h11.Request] = []

    def __call__(self, sock: socket.socket) -> None:
        conn = h11.Connection(h11.SERVER)
        body = b""
        sock.settimeout(5)
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
            elif isinstance(event, h11.Request):
                self.requests.append(event)
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                self.bodies.append(body)
                answer = str(len(body)).encode()
                response = h11.Response(
                    status_code=200, headers=[("content-length", str(len(answer)))]
                )
                sock.sendall(conn.send(response) or b"")
                sock.sendall(conn.send(h11.Data(data=answer)) or b"")
                sock.sendall(conn.send(h11.EndOfMessage()) or b"")
                body = b""
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, h11.ConnectionClosed):
                return


_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


class ForwardProxy:
    """A threaded HTTP/1.1 forward proxy on 127.0.0.1 for absolute-form requests.

    Each request (`POST http://127.0.0.1:PORT/path HTTP/1.1`) is forwarded to its origin, its
    answer read whole and sent back with a Content-Length; `requests` lists the absolute URLs it
    forwarded, `headers` their request headers (as received). CONNECT is not supported (501).
    """

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                target = urlsplit(self.path)
                if target.scheme != "http" or not target.hostname:
                    self.send_error(400, "absolute-form http:// request expected")
                    return
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy.lock:
                    proxy.requests.append(self.path)
                    proxy.headers.append({k.lower(): v for k, v in self.headers.items()})
                upstream = http.client.HTTPConnection(
                    target.hostname, target.port or 80, timeout=10
                )
                path = target.path + (f"?{target.query}" if target.query else "")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                try:
                    upstream.request(self.command, path or "/", body=body, headers=headers)
                    answer = upstream.getresponse()
                    content = answer.read()
                    self.send_response(answer.status, answer.reason)
                    for name, value in answer.getheaders():
                        if name.lower() not in _HOP_BY_HOP | {"content-length"}:
                            self.send_header(name, value)
                    self.send_header("content-length", str(len(content)))
                    self.send_header("via", "1.1 test-proxy")
                    self.end_headers()
                    self.wfile.write(content)
                finally:
                    upstream.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

            def do_CONNECT(self) -> None:
                self.send_error(501, "CONNECT is not supported by this test proxy")

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.requests)

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
