"""A fast loopback HTTP/1.1 server for the benchmark: asyncio Protocol, keep-alive, pipelining.

Parsing is minimal (request line, `Content-Length`, `Connection: close`); every response is
built once at start-up. The server counts the TCP connections it accepts. Control routes (their
connections are not counted):

    GET  /__stats__   {"connections": accepted, "requests": served, "open": now, "max_open": peak}
    POST /__reset__   zero the counters (then as /__stats__)

Run: `python bench/server.py [--chunks N] [--dim N]`; it prints `PORT <n>` on stdout and serves on
127.0.0.1 until its standard input closes, SIGTERM, or `--lifetime` seconds pass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from dataclasses import dataclass

HOST = "127.0.0.1"

CLASSIFY = "/classify"
CLASSIFY_FLAT = "/classify-flat"
CHAT = "/chat/v1/chat/completions"
CHAT_STREAM = "/chatstream/v1/chat/completions"
GENERATE = "/generate"
EMBED = "/embed"
STATS = "/__stats__"
RESET = "/__reset__"

CLASSIFY_RESULT: list[dict[str, object]] = [
    {"label": "POSITIVE", "score": 0.99},
    {"label": "NEGATIVE", "score": 0.01},
]
CHAT_CONTENT = "Hello! I am a benchmark server. How can I help you today?"


def chat_chunk_text(i: int) -> str:
    return f"w{i} "


def token_text(i: int) -> str:
    return f"t{i % 97}"


def generated_text(n: int) -> str:
    return "".join(token_text(i) for i in range(n))


def embedding(dim: int) -> list[float]:
    """Deterministic floats with a few digits, like a real embedding's JSON."""
    return [round(((i * 7919) % 2000 - 1000) / 1000.0 + 0.000123 * (i % 13), 6) for i in range(dim)]


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _sse_response(events: list[bytes]) -> bytes:
    """A chunked `text/event-stream` response, one HTTP chunk per event (as TGI and vLLM send)."""
    parts = [b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"]
    parts.append(b"transfer-encoding: chunked\r\n\r\n")
    for event in events:
        parts.append(b"%x\r\n%s\r\n" % (len(event), event))
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def chat_completion_body() -> dict[str, object]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "tgi",
        "system_fingerprint": "bench",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": CHAT_CONTENT},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28},
    }


def chat_stream_events(n: int) -> list[bytes]:
    events = []
    for i in range(n):
        chunk = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": "tgi",
            "system_fingerprint": "bench",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": chat_chunk_text(i)},
                    "logprobs": None,
                    "finish_reason": "stop" if i == n - 1 else None,
                }
            ],
        }
        events.append(b"data: " + _json(chunk) + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return events


def tgi_stream_events(n: int) -> list[bytes]:
    events = []
    for i in range(n):
        last = i == n - 1
        event = {
            "index": i + 1,
            "token": {
                "id": 1000 + i % 97,
                "text": token_text(i),
                "logprob": -0.1,
                "special": False,
            },
            "generated_text": generated_text(n) if last else None,
            "details": None,
        }
        events.append(b"data:" + _json(event) + b"\n\n")
    return events


def build_routes(chunks: int, dim: int) -> dict[tuple[bytes, bytes], bytes]:
    """(method, path) → the complete response bytes."""
    return {
        # The Inference API's shape for one input, `[[...]]`, which every client reads.
        (b"POST", CLASSIFY.encode()): _response(
            "200 OK", "application/json", _json([CLASSIFY_RESULT])
        ),
        # TEI's flat shape `[...]`: only for the compatibility probe.
        (b"POST", CLASSIFY_FLAT.encode()): _response(
            "200 OK", "application/json", _json(CLASSIFY_RESULT)
        ),
        (b"POST", CHAT.encode()): _response(
            "200 OK", "application/json", _json(chat_completion_body())
        ),
        (b"POST", CHAT_STREAM.encode()): _sse_response(chat_stream_events(chunks)),
        (b"POST", GENERATE.encode()): _sse_response(tgi_stream_events(chunks)),
        (b"POST", EMBED.encode()): _response("200 OK", "application/json", _json([embedding(dim)])),
    }


NOT_FOUND = _response("404 Not Found", "application/json", b'{"error":"no such route"}')
BAD_REQUEST = _response("400 Bad Request", "application/json", b'{"error":"bad request"}')


@dataclass
class Stats:
    connections: int = 0
    requests: int = 0
    open: int = 0
    max_open: int = 0

    def reset(self) -> None:
        self.connections = 0
        self.requests = 0
        self.max_open = self.open

    def response(self) -> bytes:
        return _response("200 OK", "application/json", _json(self.__dict__))


class HttpProtocol(asyncio.Protocol):
    def __init__(self, routes: dict[tuple[bytes, bytes], bytes], stats: Stats) -> None:
        self.routes = routes
        self.stats = stats
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.control = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        stats = self.stats
        stats.connections += 1
        stats.open += 1
        stats.max_open = max(stats.max_open, stats.open)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.stats.open -= 1

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out: list[bytes] = []
        close = False
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buf[:end])
            sp1 = head.find(b" ")
            sp2 = head.find(b" ", sp1 + 1)
            if sp1 <= 0 or sp2 < 0:
                out.append(BAD_REQUEST)
                close = True
                break
            method = head[:sp1]
            target = head[sp1 + 1 : sp2]
            q = target.find(b"?")
            path = target if q < 0 else target[:q]
            lower = head.lower()
            length = 0
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                length = int(head[i + 17 : j if j >= 0 else len(head)])
            elif b"\r\ntransfer-encoding:" in lower:  # chunked request bodies: not needed here
                out.append(BAD_REQUEST)
                close = True
                break
            total = end + 4 + length
            if len(buf) < total:
                break
            del buf[:total]
            if b"\r\nconnection: close" in lower:
                close = True
            if path.startswith(b"/__"):
                out.append(self._control(path))
            else:
                self.stats.requests += 1
                out.append(self.routes.get((method, path), NOT_FOUND))
            if close:
                break
        transport = self.transport
        if transport is None:
            return
        if out:
            transport.write(out[0] if len(out) == 1 else b"".join(out))
        if close:
            transport.close()

    def _control(self, path: bytes) -> bytes:
        stats = self.stats
        if not self.control:
            # A control connection is not part of any measurement.
            self.control = True
            stats.connections -= 1
        if path == RESET.encode():
            stats.reset()
        elif path != STATS.encode():
            return NOT_FOUND
        return stats.response()


async def serve(chunks: int, dim: int, lifetime: float) -> None:
    loop = asyncio.get_running_loop()
    routes = build_routes(chunks, dim)
    stats = Stats()
    server = await loop.create_server(
        lambda: HttpProtocol(routes, stats), HOST, 0, backlog=1024, reuse_address=True
    )
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()

    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGINT, done.set)

    stdin = sys.stdin.fileno()

    def stdin_readable() -> None:
        if not os.read(stdin, 4096):  # EOF: the parent has gone
            loop.remove_reader(stdin)
            done.set()

    loop.add_reader(stdin, stdin_readable)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(done.wait(), lifetime)
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=2000, help="events per streamed response")
    parser.add_argument("--dim", type=int, default=384, help="floats in the embedding")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="stop after this (s)")
    parser.add_argument("--cpu", type=int, default=None, help="pin the server to this CPU")
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    asyncio.run(serve(args.chunks, args.dim, args.lifetime))


if __name__ == "__main__":
    main()
