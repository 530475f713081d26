"""The plumbing of the fake provider of `fakeprovider.py`: a threaded HTTP/1.1 server on
127.0.0.1 that counts its connections (open and in all), resets the ones a handler marks (RST,
not FIN) and keeps the handlers' exceptions; the state it shares with its handlers (the scenario,
the jobs, every request received and the counters); and the base handler that records a request
and sends an answer in one write.

What the provider answers (the routes and the per-protocol jobs) is in fakeprovider.py and
fakeprovider_protocols.py.
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.providers.fakeprovider_protocols import Job, Scenario


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class State:
    scenario: Scenario = field(default_factory=Scenario)
    jobs: dict[str, Job] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    status_gets: int = 0
    status_times: list[float] = field(default_factory=list)
    results: int = 0
    downloads: int = 0
    lookups: int = 0
    submits: int = 0
    resets: int = 0
    held: int = 0
    errors: list[str] = field(default_factory=list)
    """Exceptions in handlers (a client that went away mid-answer), for debugging."""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.lock = threading.Lock()
        self.state = State()
        self.release = threading.Event()
        self.connections = 0
        self.open_connections = 0
        self._to_reset: set[socket.socket] = set()
        self._ids = itertools.count(1)

    def next_id(self) -> str:
        return f"job-{next(self._ids)}"

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections += 1
            self.open_connections += 1
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().process_request(request, client_address)

    def reset_later(self, request: socket.socket) -> None:
        with self.lock:
            self._to_reset.add(request)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            reset = request in self._to_reset
            self._to_reset.discard(request)
        try:
            if reset:  # RST, not FIN: SO_LINGER 0 and close without shutdown
                request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                request.close()
            else:
                super().shutdown_request(request)
        finally:
            with self.lock:
                self.open_connections -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        import traceback

        with self.lock:
            self.state.errors.append(traceback.format_exc(limit=2))


class BaseHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, silent; each request recorded in the state, each answer one write."""

    protocol_version = "HTTP/1.1"
    server: Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> Seen:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(
            self.command,
            self.path,
            {k.lower(): v for k, v in self.headers.items()},
            body,
            time.monotonic(),
        )
        with self.server.lock:
            self.server.state.seen.append(seen)
        return seen

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body)  # head and body in one write
        self.flush_headers()

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode())

    def _not_found(self) -> None:
        self._json({"error": f"fake provider: no route {self.command} {self.path}"}, 404)
