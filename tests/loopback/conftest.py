"""A loopback HTTP/1.1 server that the tests start and stop, and that counts connections; the
engine fixtures (`flavour`, `async_flavour`, `engine`, `http`); a clean environment (`clean_env`,
autouse, shared with tests/providers/test_jobs_loopback.py: see tests/providers/hermetic_env.py)."""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hfinfer._engines import Engine
from tests.providers.hermetic_env import clean_env  # noqa: F401 - autouse fixture

from .engines import ASYNC_FLAVOURS, ENGINE, FLAVOURS, Flavour, Http

CHUNK = (
    'data: {"choices":[{"delta":{"content":"tok"},"index":0}],"created":1,"id":"c","model":"m"}\n\n'
)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.open_connections = 0
        self.lock = threading.Lock()
        self.stop_stalling = threading.Event()

    def process_request(self, request: socketserver._RequestType, client_address: object) -> None:  # type: ignore[name-defined]
        with self.lock:
            self.connections += 1
            self.open_connections += 1
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def shutdown_request(self, request: socketserver._RequestType) -> None:  # type: ignore[name-defined]
        with self.lock:
            self.open_connections -= 1
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:
        self._read_body()
        path = self.path
        if path.startswith("/stream/endless"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(100_000):
                    self._chunk(CHUNK.encode())
                    time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                return
            return
        if path.startswith("/stream/done") or path.endswith("/chat/completions"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for _ in range(3):
                self._chunk(CHUNK.encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
            return
        if path.startswith("/stall"):
            self.server.stop_stalling.wait(30)
            return
        if path.startswith("/error"):
            body = json.dumps(
                {"error": "Input validation error: `inputs` must not be empty"}
            ).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("x-request-id", "req-1234")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = json.dumps([[{"label": "POSITIVE", "score": 0.9}]]).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Loopback:
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    @property
    def connections(self) -> int:
        return self.server.connections

    @property
    def open_connections(self) -> int:
        return self.server.open_connections

    def wait_open(self, expected: int, deadline: float = 5.0) -> int:
        """Wait until the server sees `expected` open connections (closing is asynchronous)."""
        end = time.monotonic() + deadline
        while self.server.open_connections != expected and time.monotonic() < end:
            time.sleep(0.01)
        return self.server.open_connections


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Loopback(server)
    finally:
        server.stop_stalling.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    """Each engine in turn: "sync", "aiohttp", "httpx-async" (see engines.py)."""
    param: Flavour = request.param
    return param


@pytest.fixture(params=ASYNC_FLAVOURS)
def async_flavour(request: pytest.FixtureRequest) -> Flavour:
    """Each async engine in turn: "aiohttp", "httpx-async"."""
    param: Flavour = request.param
    return param


@pytest.fixture
def engine(async_flavour: Flavour) -> Engine:
    """The `engine=` of `AsyncInferenceClient` for each async flavour."""
    return ENGINE[async_flavour]


@pytest.fixture
def http(flavour: Flavour) -> Iterator[Http]:
    """The httpx client hfinfer builds for this flavour (5 s timeout, no env), driven synchronously."""
    with Http(flavour) as client:
        yield client
