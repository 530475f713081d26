"""A fake Inference Provider on 127.0.0.1 for the job tests: the wire of the four job protocols
(fal's queue, wavespeed, together's videos, zai's async images), replicate's `Prefer: wait`
prediction, the media download and the Hub's provider mapping, all on one threaded server.

What every job does is set by the server's `scenario` (how many status GETs until its end state,
which end state, which polls get their connection reset or held). The server counts what it
received (status GETs, result GETs, downloads, lookups) and its connections, open and in all,
so that a test can assert the exact number of polls and that nothing is left open.

`start()` returns a running server; `FakeProvider.stop()` stops it by its handle.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

MODEL = "org/fake-model"
"""The Hugging Face model id every test calls; the Hub mapping maps it for each provider."""
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
"""A 2x2 red PNG."""
VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isomfake-video-bytes"
UNKNOWN = "EXPLODED"
"""The status a job reports when the scenario ends in an unknown state."""


@dataclass(frozen=True)
class Protocol:
    """One provider's job protocol as the tests call it."""

    provider: str
    method: str
    """The client method that runs it."""
    task: str
    provider_id: str
    """The model id on the provider's side (from the Hub mapping)."""
    pending: str
    """The status of a job still running, in a status answer."""
    submitted: str
    """The status in the submit answer."""
    done: str
    failed: str | None
    """None: the protocol has no failure state (fal's queue)."""
    media: bytes
    """What the download returns (the method's result)."""


PROTOCOLS: dict[str, Protocol] = {
    p.provider: p
    for p in (
        Protocol(
            "fal-ai",
            "text_to_video",
            "text-to-video",
            "fal-ai/fake-video/v2",
            "IN_PROGRESS",
            "IN_QUEUE",
            "COMPLETED",
            None,
            VIDEO,
        ),
        Protocol(
            "wavespeed",
            "text_to_video",
            "text-to-video",
            "wavespeed-ai/fake-video",
            "processing",
            "created",
            "completed",
            "failed",
            VIDEO,
        ),
        Protocol(
            "together",
            "text_to_video",
            "text-to-video",
            "fake/video-model",
            "in_progress",
            "queued",
            "completed",
            "failed",
            VIDEO,
        ),
        Protocol(
            "zai-org",
            "text_to_image",
            "text-to-image",
            "glm-fake-image",
            "PROCESSING",
            "PROCESSING",
            "SUCCESS",
            "FAIL",
            PNG,
        ),
        Protocol(
            "replicate",
            "text_to_image",
            "text-to-image",
            "fake/image-model",
            "processing",
            "starting",
            "succeeded",
            "failed",
            PNG,
        ),
    )
}


@dataclass
class Scenario:
    """What every job submitted to the server does."""

    polls: int = 3
    """The answered status GET that reports the end state (0: the submit answer does)."""
    end: str = "done"
    """"done", "failed", "unknown" (status `UNKNOWN`) or "never" (pending for ever)."""
    message: str = "the GPU caught fire"
    """A failed job's message."""
    reset: frozenset[int] = frozenset()
    """Status GETs (1-based, in the order received) whose connection is reset, unanswered."""
    reset_from: int | None = None
    """Or: every status GET from this one on is reset."""
    hold_from: int | None = None
    """Status GETs from this one on are held unanswered until `release` is set (or 30 s)."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Job:
    id: str
    protocol: Protocol
    answered: int = 0
    """Status GETs answered so far."""


@dataclass
class _State:
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.lock = threading.Lock()
        self.state = _State()
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


_FAL_SUBMIT = re.compile(r"^/fal-ai/[^/]+/[^/]+(/[^/]+)?$")
_FAL_REQUEST = re.compile(r"^/fal-ai/fake/requests/(?P<id>[^/]+)(?P<status>/status)?$")
_WAVESPEED_SUBMIT = re.compile(r"^/api/v3/wavespeed-ai/[^/]+$")
_WAVESPEED_GET = re.compile(r"^/api/v3/predictions/(?P<id>[^/]+)/result$")
_TOGETHER_GET = re.compile(r"^/v2/videos/(?P<id>[^/]+)$")
_ZAI_GET = re.compile(r"^/api/paas/v4/async-result/(?P<id>[^/]+)$")
_REPLICATE_SUBMIT = re.compile(r"^/v1/models/[^/]+/[^/]+/predictions$")
_REPLICATE_GET = re.compile(r"^/v1/predictions/(?P<id>[^/]+)$")
_MAPPING = re.compile(r"^/api/models/(?P<model>.+)$")
_MEDIA = re.compile(r"^/media/(?P<name>[^/]+)$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    # -- plumbing ------------------------------------------------------------------------------

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

    # -- routing -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        self._record()
        path = urlsplit(self.path).path
        for provider, pattern in (
            ("wavespeed", _WAVESPEED_SUBMIT),
            ("replicate", _REPLICATE_SUBMIT),
            ("fal-ai", _FAL_SUBMIT),
        ):
            if pattern.match(path):
                return self._submit(PROTOCOLS[provider])
        if path == "/v2/videos":
            return self._submit(PROTOCOLS["together"])
        if path == "/api/paas/v4/async/images/generations":
            return self._submit(PROTOCOLS["zai-org"])
        return self._not_found()

    def do_GET(self) -> None:
        self._record()
        path = urlsplit(self.path).path
        if (match := _MEDIA.match(path)) is not None:
            with self.server.lock:
                self.server.state.downloads += 1
            name = match["name"]
            if name.endswith(".png"):
                return self._send(200, PNG, "image/png")
            return self._send(200, VIDEO, "video/mp4")
        if (match := _FAL_REQUEST.match(path)) is not None:
            if match["status"]:
                return self._status(match["id"])
            return self._fal_result(match["id"])
        for pattern in (_WAVESPEED_GET, _TOGETHER_GET, _ZAI_GET, _REPLICATE_GET):
            if (match := pattern.match(path)) is not None:
                return self._status(match["id"])
        if (match := _MAPPING.match(path)) is not None:
            return self._mapping(match["model"])
        return self._not_found()

    # -- the Hub -------------------------------------------------------------------------------

    def _mapping(self, model: str) -> None:
        with self.server.lock:
            self.server.state.lookups += 1
        if model != MODEL or "expand=inferenceProviderMapping" not in self.path:
            return self._json({"error": f"Repository {model} not found"}, 404)
        entries = {
            p.provider: {"providerId": p.provider_id, "task": p.task, "status": "live"}
            for p in PROTOCOLS.values()
        }
        self._json({"_id": "x", "id": MODEL, "inferenceProviderMapping": entries})

    # -- jobs ----------------------------------------------------------------------------------

    def _submit(self, protocol: Protocol) -> None:
        with self.server.lock:
            self.server.state.submits += 1
            job = Job(self.server.next_id(), protocol)
            self.server.state.jobs[job.id] = job
            scenario = self.server.state.scenario
        state = self._end_state(scenario) if scenario.polls == 0 else "submitted"
        self._json(self._answer(job, state))

    def _status(self, job_id: str) -> None:
        server = self.server
        with server.lock:
            job = server.state.jobs.get(job_id)
            if job is None:
                return self._json({"error": f"no job {job_id}"}, 404)
            server.state.status_gets += 1
            server.state.status_times.append(time.monotonic())
            number = server.state.status_gets
            scenario = server.state.scenario
            reset = number in scenario.reset or (
                scenario.reset_from is not None and number >= scenario.reset_from
            )
            hold = scenario.hold_from is not None and number >= scenario.hold_from
            if reset:
                server.state.resets += 1
            if hold:
                server.state.held += 1
        if reset:
            server.reset_later(self.connection)
            self.close_connection = True
            return None
        if hold:
            server.release.wait(30)
        with server.lock:
            job.answered += 1
            reached = job.answered >= scenario.polls and scenario.end != "never"
        state = self._end_state(scenario) if reached else "pending"
        return self._json(self._answer(job, state))

    def _fal_result(self, job_id: str) -> None:
        with self.server.lock:
            self.server.state.results += 1
            job = self.server.state.jobs.get(job_id)
        if job is None:
            return self._json({"error": f"no job {job_id}"}, 404)
        self._json({"video": {"url": self._media_url(job), "content_type": "video/mp4"}})

    @staticmethod
    def _end_state(scenario: Scenario) -> str:
        return {"done": "done", "failed": "failed", "unknown": "unknown"}.get(
            scenario.end, "pending"
        )

    def _media_url(self, job: Job) -> str:
        suffix = "png" if job.protocol.media is PNG else "mp4"
        return f"{self.server.url}/media/{job.id}.{suffix}"

    def _answer(self, job: Job, state: str) -> dict[str, Any]:
        """The provider's JSON for a job in `state` ("submitted", "pending", "done", "failed",
        "unknown")."""
        p = job.protocol
        status = {
            "submitted": p.submitted,
            "pending": p.pending,
            "done": p.done,
            "failed": p.failed,
            "unknown": UNKNOWN,
        }[state]
        message = self.server.state.scenario.message
        media = self._media_url(job)
        base = self.server.url
        if p.provider == "fal-ai":
            return {
                "request_id": job.id,
                "status": status,
                "response_url": f"{base}/fal-ai/fake/requests/{job.id}",
                "status_url": f"{base}/fal-ai/fake/requests/{job.id}/status",
            }
        if p.provider == "wavespeed":
            data = {
                "id": job.id,
                "status": status,
                "urls": {"get": f"{base}/api/v3/predictions/{job.id}/result"},
                "outputs": [media] if state == "done" else [],
                "error": message if state == "failed" else "",
            }
            return {"code": 200, "message": "success", "data": data}
        if p.provider == "replicate":
            return {
                "id": job.id,
                "status": status,
                "urls": {"get": f"{base}/v1/predictions/{job.id}"},
                "output": media if state == "done" else None,
                "error": message if state == "failed" else None,
            }
        key = "task_status" if p.provider == "zai-org" else "status"
        answer: dict[str, Any] = {"id": job.id, "model": p.provider_id, key: status}
        if state == "done" and p.provider == "together":
            answer["outputs"] = {"video_url": media, "cost": 0}
        if state == "done" and p.provider == "zai-org":
            answer["image_result"] = [{"url": media}]
        if state == "failed":
            answer["error"] = {"code": "1301", "message": message}
        return answer


class FakeProvider:
    """The handle of a running fake provider: its URL, scenario, counters and `stop()`."""

    def __init__(self) -> None:
        self._server = _Server()
        self.url = self._server.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        self._thread.start()

    @property
    def scenario(self) -> Scenario:
        return self._server.state.scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        with self._server.lock:
            self._server.state.scenario = scenario

    @property
    def state(self) -> _State:
        return self._server.state

    @property
    def status_gets(self) -> int:
        with self._server.lock:
            return self._server.state.status_gets

    @property
    def connections(self) -> int:
        return self._server.connections

    @property
    def open_connections(self) -> int:
        return self._server.open_connections

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        """Requests received, optionally only those with this method and path prefix."""
        with self._server.lock:
            found = list(self._server.state.seen)
        return [
            s
            for s in found
            if (method is None or s.method == method) and (path is None or s.path.startswith(path))
        ]

    def release(self) -> None:
        """Answer the held status GETs (and any later ones at once)."""
        self._server.release.set()

    def wait_open(self, expected: int = 0, deadline: float = 5.0) -> int:
        """Wait until `expected` connections are open (a close reaches the server later)."""
        end = time.monotonic() + deadline
        while self._server.open_connections != expected and time.monotonic() < end:
            time.sleep(0.005)
        return self._server.open_connections

    def stop(self) -> None:
        self._server.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def start() -> FakeProvider:
    return FakeProvider()


__all__ = ["MODEL", "PNG", "PROTOCOLS", "UNKNOWN", "VIDEO", "FakeProvider", "Protocol", "Scenario"]
