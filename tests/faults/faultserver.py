"""A loopback HTTP/1.1 server that misbehaves on request, at byte level.

Raw sockets, one thread per connection, bound to 127.0.0.1 on a free port. The fault is chosen by
the request path: `/{fault}/{times}/{key}/...`. The first `times` requests for a `key` get the
fault (`times` may be `all`), later ones a normal answer; so "fail N times, then succeed" is a
URL. The normal answer depends on the rest of the path: a chat SSE stream when the path ends with
`/chat/completions`, else a text-classification JSON body.

The server counts connections on its side: accepted, currently open (a connection stops being
open when the server sees the client close it or closes it itself) and the most open at once.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import hashlib
import itertools
import json
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

from typing_extensions import Self

HOST = "127.0.0.1"

TOKEN = "tok"
CHAT_CHUNK = (
    'data: {"choices":[{"delta":{"content":"%s"},"index":0}],"created":1,"id":"c","model":"m"}\n\n'
)
CHAT_TOKENS = 3
CLASSIFICATION = [[{"label": "POSITIVE", "score": 0.9}]]
SERVER_500_MESSAGE = "CUDA error: an illegal memory access was encountered"
LOADING_MESSAGE = "Model x is currently loading"
REQUEST_ID = "req-fault-1"

BIG_CHUNK = 1 << 20
BIG_SIZE = 100 * BIG_CHUNK
BIG_SSE_SIZE = 10 * 1000 * 1000

FAULTS = (
    "ok",  # a normal answer
    "reset",  # read the request, then RST (SO_LINGER 0) before any response byte
    "midreset",  # headers and part of the body (SSE: two chunks), then RST
    "loading",  # 503 {"error": "Model x is currently loading", "estimated_time": 0.2}
    "r429",  # 429 with Retry-After: 0
    "r429date",  # 429 with an HTTP-date Retry-After in the past
    "r429far",  # 429 with an HTTP-date Retry-After an hour ahead
    "r429hour",  # 429 with Retry-After: 3600 (seconds)
    "r429in1",  # 429 with Retry-After: 1
    "r429ms",  # 429 with retry-after-ms: 20 (and Retry-After: 3600, which must lose)
    "e500",  # 500 with a JSON error message and a request id
    "stallhead",  # read the request, never answer
    "stallbody",  # headers with Content-Length 100, 10 bytes, then nothing
    "stallstream",  # SSE headers and one chunk, then nothing
    "truncated",  # Content-Length 1000 (SSE: a chunk cut short), fewer bytes, then close
    "badjson",  # 200 with a complete body that is not JSON
    "badutf8",  # 200 with invalid UTF-8 inside a JSON string (JSON body or SSE data)
    "bigsse",  # one SSE `data:` event of 10 MB of valid JSON
    "big",  # 200 with a 100 MB binary body, sent in 1 MiB chunks
    "garbage",  # an SSH banner instead of HTTP, then close
    "noise",  # 1 MiB of random bytes without a line end, connection left open
)


def big_chunks(size: int = BIG_SIZE) -> Iterator[bytes]:
    """The body of the `big` fault, chunk by chunk: every MiB differs (index prefix)."""
    block = random.Random(20240517).randbytes(BIG_CHUNK)
    sent = 0
    for index in itertools.count():
        if sent >= size:
            return
        n = min(BIG_CHUNK, size - sent)
        chunk = (index.to_bytes(8, "big") + block[8:])[:n]
        sent += n
        yield chunk


def big_digest(size: int = BIG_SIZE) -> str:
    digest = hashlib.sha256()
    for chunk in big_chunks(size):
        digest.update(chunk)
    return digest.hexdigest()


def big_sse_content(size: int = BIG_SSE_SIZE) -> str:
    """The delta content carried by the single 10 MB event of the `bigsse` fault."""
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


class _Request:
    __slots__ = ("body", "headers", "method", "path")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class _Closed(Exception):
    """The client closed the connection (or the server is stopping)."""


class _Conn:
    """One accepted socket with a read buffer."""

    def __init__(self, sock: socket.socket, on_close: Callable[[socket.socket], None]) -> None:
        self.sock = sock
        self.buffer = b""
        self._on_close = on_close
        self.closed = False

    def close(self) -> None:
        """Close (once) and tell the server at once, so its open count follows the socket."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()
        self._on_close(self.sock)

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise _Closed
        self.buffer += data

    def read_request(self) -> _Request:
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > 1 << 20:
                raise _Closed
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        else:
            body = self._read_exactly(int(headers.get("content-length") or 0))
        return _Request(method, path, headers, body)

    def _read_exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _read_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._read_line().split(b";")[0], 16)
            if size == 0:
                while self._read_line():  # trailers, up to the blank line
                    pass
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self._read_exactly(2)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_for_close(self) -> None:
        """Stall: read and drop whatever comes until the client closes."""
        while self.sock.recv(65536):
            pass

    def reset(self) -> None:
        """Close with RST instead of FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()


def _head(status: int, reason: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _json_response(status: int, reason: str, body: bytes, extra: list[tuple[str, str]]) -> bytes:
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    return _head(status, reason, headers + extra) + body


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_SSE_HEAD = _head(
    200,
    "OK",
    [("content-type", "text/event-stream"), ("transfer-encoding", "chunked")],
)


def _chat_event(content: str) -> bytes:
    return (CHAT_CHUNK % content).encode()


class FaultServer:
    """Start with `start()` (or `with`), stop with `stop()`; see the module docstring."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://{HOST}:{self.port}"
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._socks: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._hits: dict[str, int] = {}
        self._keys = itertools.count()
        self._accept_thread: threading.Thread | None = None
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.requests = 0
        self.faults: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []
        """Unexpected exceptions in handler threads (a bug in this server, not in the client)."""
        self._big_sse = b""

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name="faultserver-accept", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._accept_thread is not None:
            self._accept_thread.join(5)
        self._listener.close()
        with self._cond:
            socks = list(self._socks)
            threads = list(self._threads)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the tests use ------------------------------------------------------------------

    def model_url(self, fault: str, times: int | None = None, key: str | None = None) -> str:
        """`http://127.0.0.1:PORT/{fault}/{times}/{key}`: `times` None means every request."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        if key is None:
            key = f"k{next(self._keys)}"
        return f"{self.url}/{fault}/{'all' if times is None else times}/{key}"

    def wait_open(self, n: int, timeout: float = 5.0) -> int:
        """Wait until exactly `n` connections are open (closing is asynchronous); return the count."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.open != n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self.open

    def reset_max_open(self) -> None:
        with self._cond:
            self.max_open = self.open

    # -- connections ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.setblocking(True)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(
                target=self._serve, args=(sock,), name="faultserver-conn", daemon=True
            )
            with self._cond:
                self.accepted += 1
                self.open += 1
                self.max_open = max(self.max_open, self.open)
                self._socks.add(sock)
                self._threads.add(thread)
                self._cond.notify_all()
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        conn = _Conn(sock, self._closed)
        try:
            while not self._stopping.is_set():
                request = conn.read_request()
                with self._cond:
                    self.requests += 1
                if not self._respond(conn, request):
                    break
        except (_Closed, OSError):
            pass
        except Exception as exc:  # a bug in this server: make it visible to the tests
            with self._cond:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()
            with self._cond:
                self._threads.discard(threading.current_thread())

    def _closed(self, sock: socket.socket) -> None:
        with self._cond:
            self._socks.discard(sock)
            self.open -= 1
            self._cond.notify_all()

    # -- answers -------------------------------------------------------------------------------

    def _fault_for(self, path: str) -> str:
        """The fault to apply to this request ("ok" once a key has used up its `times`)."""
        parts = path.split("?", 1)[0].split("/")
        if len(parts) < 4 or parts[1] not in FAULTS:
            return "ok"
        fault, times, key = parts[1], parts[2], parts[3]
        with self._cond:
            hit = self._hits.get(key, 0) + 1
            self._hits[key] = hit
            if fault != "ok" and (times == "all" or hit <= int(times)):
                self.faults[fault] += 1
                return fault
        return "ok"

    def _respond(self, conn: _Conn, request: _Request) -> bool:
        """Answer one request; False when the connection must not be used again."""
        chat = request.path.split("?", 1)[0].rstrip("/").endswith("/chat/completions")
        fault = self._fault_for(request.path)
        handler = getattr(self, f"_fault_{fault}")
        keep: bool = handler(conn, chat)
        return keep and request.headers.get("connection", "").lower() != "close"

    def _fault_ok(self, conn: _Conn, chat: bool) -> bool:
        if chat:
            body = b"".join(_chunk(_chat_event(TOKEN)) for _ in range(CHAT_TOKENS))
            conn.send(_SSE_HEAD + body + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        else:
            conn.send(_json_response(200, "OK", json.dumps(CLASSIFICATION).encode(), []))
        return True

    def _fault_reset(self, conn: _Conn, chat: bool) -> bool:
        conn.reset()
        return False

    def _fault_midreset(self, conn: _Conn, chat: bool) -> bool:
        if chat:
            conn.send(_SSE_HEAD + _chunk(_chat_event(TOKEN)) + _chunk(_chat_event(TOKEN)))
        else:
            head = _head(
                200, "OK", [("content-type", "application/json"), ("content-length", "1000")]
            )
            conn.send(head + b'[[{"label": "POSITIVE", ')
        time.sleep(0.01)  # let loopback deliver what was sent: RST drops unsent data
        conn.reset()
        return False

    def _fault_loading(self, conn: _Conn, chat: bool) -> bool:
        body = json.dumps({"error": LOADING_MESSAGE, "estimated_time": 0.2}).encode()
        conn.send(_json_response(503, "Service Unavailable", body, []))
        return True

    def _send_429(self, conn: _Conn, headers: list[tuple[str, str]]) -> bool:
        body = json.dumps({"error": "Rate limit reached, slow down"}).encode()
        conn.send(_json_response(429, "Too Many Requests", body, headers))
        return True

    def _fault_r429(self, conn: _Conn, chat: bool) -> bool:
        return self._send_429(conn, [("retry-after", "0")])

    def _fault_r429date(self, conn: _Conn, chat: bool) -> bool:
        past = email.utils.formatdate(time.time() - 5, usegmt=True)
        return self._send_429(conn, [("retry-after", past)])

    def _fault_r429far(self, conn: _Conn, chat: bool) -> bool:
        later = email.utils.formatdate(time.time() + 3600, usegmt=True)
        return self._send_429(conn, [("retry-after", later)])

    def _fault_r429hour(self, conn: _Conn, chat: bool) -> bool:
        return self._send_429(conn, [("retry-after", "3600")])

    def _fault_r429in1(self, conn: _Conn, chat: bool) -> bool:
        return self._send_429(conn, [("retry-after", "1")])

    def _fault_r429ms(self, conn: _Conn, chat: bool) -> bool:
        return self._send_429(conn, [("retry-after-ms", "20"), ("retry-after", "3600")])

    def _fault_e500(self, conn: _Conn, chat: bool) -> bool:
        body = json.dumps({"error": SERVER_500_MESSAGE}).encode()
        conn.send(
            _json_response(500, "Internal Server Error", body, [("x-request-id", REQUEST_ID)])
        )
        return True

    def _fault_stallhead(self, conn: _Conn, chat: bool) -> bool:
        conn.wait_for_close()
        return False

    def _fault_stallbody(self, conn: _Conn, chat: bool) -> bool:
        head = _head(200, "OK", [("content-type", "application/json"), ("content-length", "100")])
        conn.send(head + b'[[{"label"')
        conn.wait_for_close()
        return False

    def _fault_stallstream(self, conn: _Conn, chat: bool) -> bool:
        conn.send(_SSE_HEAD + _chunk(_chat_event(TOKEN)))
        conn.wait_for_close()
        return False

    def _fault_truncated(self, conn: _Conn, chat: bool) -> bool:
        if chat:
            cut = _chunk(_chat_event(TOKEN))[:-20]
            conn.send(_SSE_HEAD + _chunk(_chat_event(TOKEN)) + cut)
        else:
            head = _head(
                200, "OK", [("content-type", "application/json"), ("content-length", "1000")]
            )
            conn.send(head + json.dumps(CLASSIFICATION).encode()[:20])
        conn.close()
        return False

    def _fault_badjson(self, conn: _Conn, chat: bool) -> bool:
        body = b'[[{"label": POSITIVE, "score": 0.9}]'
        if chat:
            conn.send(_SSE_HEAD + _chunk(b"data: " + body + b"\n\n") + b"0\r\n\r\n")
        else:
            conn.send(_json_response(200, "OK", body, []))
        return True

    def _fault_badutf8(self, conn: _Conn, chat: bool) -> bool:
        if chat:
            event = _chat_event("toXXk").replace(b"XX", b"\xff\xfe")
            conn.send(_SSE_HEAD + _chunk(event) + _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        else:
            body = b'[[{"label": "POS\xff\xfeITIVE", "score": 0.9}]]'
            conn.send(_json_response(200, "OK", body, []))
        return True

    def _fault_bigsse(self, conn: _Conn, chat: bool) -> bool:
        with self._cond:
            if not self._big_sse:
                self._big_sse = _chat_event(big_sse_content())
            event = self._big_sse
        conn.send(_SSE_HEAD)
        view = memoryview(event)
        for start in range(0, len(event), 65536):
            conn.send(_chunk(bytes(view[start : start + 65536])))
        conn.send(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        return True

    def _fault_big(self, conn: _Conn, chat: bool) -> bool:
        headers = [("content-type", "audio/flac"), ("content-length", str(BIG_SIZE))]
        conn.send(_head(200, "OK", headers))
        for chunk in big_chunks():
            conn.send(chunk)
        return True

    def _fault_garbage(self, conn: _Conn, chat: bool) -> bool:
        conn.send(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n")
        conn.close()
        return False

    def _fault_noise(self, conn: _Conn, chat: bool) -> bool:
        noise = random.Random(7).randbytes(1 << 20).replace(b"\r", b"").replace(b"\n", b"")
        conn.send(noise)
        conn.wait_for_close()
        return False
