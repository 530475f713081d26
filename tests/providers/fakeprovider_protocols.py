"""The job protocols that the fake provider of `fakeprovider.py` speaks: each provider's
`Protocol` (the client method, task, model id and statuses), the paths it submits and polls at,
and the JSON it answers for a job in each state; and the `Scenario` that every job follows.

Pure data and functions: no socket, no thread (those are in fakeprovider_server.py).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

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
class Job:
    id: str
    protocol: Protocol
    answered: int = 0
    """Status GETs answered so far."""


# -- paths ---------------------------------------------------------------------------------------

_FAL_SUBMIT = re.compile(r"^/fal-ai/[^/]+/[^/]+(/[^/]+)?$")
_FAL_REQUEST = re.compile(r"^/fal-ai/fake/requests/(?P<id>[^/]+)(?P<status>/status)?$")
_WAVESPEED_SUBMIT = re.compile(r"^/api/v3/wavespeed-ai/[^/]+$")
_WAVESPEED_GET = re.compile(r"^/api/v3/predictions/(?P<id>[^/]+)/result$")
_TOGETHER_GET = re.compile(r"^/v2/videos/(?P<id>[^/]+)$")
_ZAI_GET = re.compile(r"^/api/paas/v4/async-result/(?P<id>[^/]+)$")
_REPLICATE_SUBMIT = re.compile(r"^/v1/models/[^/]+/[^/]+/predictions$")
_REPLICATE_GET = re.compile(r"^/v1/predictions/(?P<id>[^/]+)$")


def submitted_to(path: str) -> Protocol | None:
    """The protocol whose submit POST goes to `path` (None: no submit route)."""
    for provider, pattern in (
        ("wavespeed", _WAVESPEED_SUBMIT),
        ("replicate", _REPLICATE_SUBMIT),
        ("fal-ai", _FAL_SUBMIT),
    ):
        if pattern.match(path):
            return PROTOCOLS[provider]
    if path == "/v2/videos":
        return PROTOCOLS["together"]
    if path == "/api/paas/v4/async/images/generations":
        return PROTOCOLS["zai-org"]
    return None


def polled_at(path: str) -> tuple[str, bool] | None:
    """(job id, True) for a status GET of `path`, (job id, False) for fal's result GET; None
    if `path` is neither."""
    if (match := _FAL_REQUEST.match(path)) is not None:
        return match["id"], bool(match["status"])
    for pattern in (_WAVESPEED_GET, _TOGETHER_GET, _ZAI_GET, _REPLICATE_GET):
        if (match := pattern.match(path)) is not None:
            return match["id"], True
    return None


# -- answers -------------------------------------------------------------------------------------


def end_state(scenario: Scenario) -> str:
    """The state a job reaches at the scenario's end ("pending" if it never ends)."""
    return {"done": "done", "failed": "failed", "unknown": "unknown"}.get(scenario.end, "pending")


def media_url(base: str, job: Job) -> str:
    """Where the server at `base` serves the job's media."""
    suffix = "png" if job.protocol.media is PNG else "mp4"
    return f"{base}/media/{job.id}.{suffix}"


def fal_result(base: str, job: Job) -> dict[str, Any]:
    """fal's result GET answer of a done job."""
    return {"video": {"url": media_url(base, job), "content_type": "video/mp4"}}


def job_answer(job: Job, state: str, base: str, message: str) -> dict[str, Any]:
    """The provider's JSON for a job in `state` ("submitted", "pending", "done", "failed",
    "unknown"), from the server at `base`; `message` is a failed job's."""
    p = job.protocol
    status = {
        "submitted": p.submitted,
        "pending": p.pending,
        "done": p.done,
        "failed": p.failed,
        "unknown": UNKNOWN,
    }[state]
    media = media_url(base, job)
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
