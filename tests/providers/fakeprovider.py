"""A fake Inference Provider on 127.0.0.1 for the job tests: the wire of the four job protocols
(fal's queue, wavespeed, together's videos, zai's async images), replicate's `Prefer: wait`
prediction, the media download and the Hub's provider mapping, all on one threaded server.

What every job does is set by the server's `scenario` (how many status GETs until its end state,
which end state, which polls get their connection reset or held). The server counts what it
received (status GETs, result GETs, downloads, lookups) and its connections, open and in all,
so that a test can assert the exact number of polls and that nothing is left open.

`start()` returns a running server; `FakeProvider.stop()` stops it by its handle. This module
routes the requests and runs the jobs; the protocols' data, paths and answers are in
fakeprovider_protocols.py, the server plumbing in fakeprovider_server.py. Every public name is
importable from here.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from tests.providers.fakeprovider_protocols import (
    MODEL,
    PNG,
    PROTOCOLS,
    UNKNOWN,
    VIDEO,
    Job,
    Protocol,
    Scenario,
    end_state,
    fal_result,
    job_answer,
    polled_at,
    submitted_to,
)
from tests.providers.fakeprovider_server import BaseHandler, Seen, Server, State

_MAPPING = re.compile(r"^/api/models/(?P<model>.+)$")
_MEDIA = re.compile(r"^/media/(?P<name>[^/]+)$")


class _Handler(BaseHandler):
    # -- routing -------------------------------------------------------------------------------

    def do_POST(self) -> None:
        self._record()
        protocol = submitted_to(urlsplit(self.path).path)
        if protocol is not None:
            return self._submit(protocol)
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
        if (polled := polled_at(path)) is not None:
            job_id, status = polled
            if status:
                return self._status(job_id)
            return self._fal_result(job_id)
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
        state = end_state(scenario) if scenario.polls == 0 else "submitted"
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
        state = end_state(scenario) if reached else "pending"
        return self._json(self._answer(job, state))

    def _fal_result(self, job_id: str) -> None:
        with self.server.lock:
            self.server.state.results += 1
            job = self.server.state.jobs.get(job_id)
        if job is None:
            return self._json({"error": f"no job {job_id}"}, 404)
        self._json(fal_result(self.server.url, job))

    def _answer(self, job: Job, state: str) -> dict[str, Any]:
        return job_answer(job, state, self.server.url, self.server.state.scenario.message)


class FakeProvider:
    """The handle of a running fake provider: its URL, scenario, counters and `stop()`."""

    def __init__(self) -> None:
        self._server = Server(_Handler)
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
    def state(self) -> State:
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


__all__ = [
    "MODEL",
    "PNG",
    "PROTOCOLS",
    "UNKNOWN",
    "VIDEO",
    "FakeProvider",
    "Job",
    "Protocol",
    "Scenario",
    "Seen",
    "State",
    "start",
]
