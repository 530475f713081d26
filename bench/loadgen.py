"""Raw-socket load generator: how many requests per second the benchmark server can answer.

Keep-alive sockets send pre-encoded requests and count complete responses by their known length
(every route's response is fixed), so the generator does almost no work per request. Two modes:
`depth=1` (one request in flight per socket, as HTTP clients use a connection) and pipelined.
"""

from __future__ import annotations

import selectors
import socket
import time
from dataclasses import dataclass


@dataclass
class Capacity:
    sockets: int
    depth: int
    requests: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def to_json(self) -> dict[str, float | int]:
        return {
            "sockets": self.sockets,
            "pipeline_depth": self.depth,
            "requests": self.requests,
            "seconds": round(self.seconds, 4),
            "requests_per_s": round(self.per_second, 1),
        }


def request_bytes(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


def measure(
    port: int,
    request: bytes,
    response_len: int,
    *,
    sockets: int = 8,
    depth: int = 1,
    seconds: float = 1.5,
    max_requests: int = 2_000_000,
) -> Capacity:
    """Drive the server for about `seconds` (bounded by `max_requests` too)."""
    sel = selectors.DefaultSelector()
    conns: list[socket.socket] = []
    pending: dict[int, int] = {}
    received: dict[int, int] = {}
    batch = request * depth
    for _ in range(sockets):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        conns.append(s)
        sel.register(s, selectors.EVENT_READ, s)
    done = 0
    sent = 0
    start = time.perf_counter()
    deadline = start + seconds
    for s in conns:
        s.sendall(batch)
        pending[s.fileno()] = depth
        received[s.fileno()] = 0
        sent += depth
    stopping = False
    while any(pending.values()):
        events = sel.select(timeout=10.0)
        if not events:
            raise TimeoutError("the server stopped answering the load generator")
        for key, _ in events:
            sock: socket.socket = key.data
            fd = sock.fileno()
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError("the server closed a benchmark connection")
            total = received[fd] + len(data)
            complete, received[fd] = divmod(total, response_len)
            if not complete:
                continue
            pending[fd] -= complete
            done += complete
            if not stopping and (time.perf_counter() >= deadline or sent >= max_requests):
                stopping = True
            if not stopping:
                sock.sendall(request * complete)
                pending[fd] += complete
                sent += complete
    elapsed = time.perf_counter() - start
    for s in conns:
        sel.unregister(s)
        s.close()
    sel.close()
    return Capacity(sockets=sockets, depth=depth, requests=done, seconds=elapsed)
