"""Helpers shared by the media and job contract tests (test_provider_media_*.py,
test_provider_jobs_*.py, test_job_status_rules.py): the media bytes and URLs, the Hub mapping
and media download mocks, one call on a fresh client, the checks of the POST, the polls, the
download and the typed result, and the (provider, task) pairs those files cover.

Not a test module (pytest collects nothing here); import it as `tests.providers.media_helpers`.
`fast_jobs` is an autouse fixture: a module that imports it has every job poll at once.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import pytest
import respx
from PIL import Image
from test_provider_contracts import HUB, KEYS, MODEL, PROVIDER_ID, ROUTER

import hfinfer
from hfinfer import _providers

DIRECT = {
    "deepinfra": "https://api.deepinfra.com",
    "fal-ai": "https://fal.run",
    "novita": "https://api.novita.ai",
    "nscale": "https://inference.api.nscale.com",
    "replicate": "https://api.replicate.com",
    "together": "https://api.together.xyz",
    "wavespeed": "https://api.wavespeed.ai",
    "zai-org": "https://api.z.ai",
}
FAL_QUEUE = "https://queue.fal.run"
MEDIA_URL = "https://cdn.media.test/outputs/result"
"""Where the provider's answers point to the produced media."""
IMAGE_URL = "https://images.example.com/input/cat.png"
"""An input image given as a URL: passed to the provider as it is, never downloaded."""
AUDIO = b"RIFF\x24\x00\x00\x00WAVEfmt fake-audio"
VIDEO = b"\x00\x00\x00\x18ftypmp42fake-video"


def png(color: tuple[int, int, int] = (255, 0, 0), size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = png()
"""The image the providers produce."""
INPUT = png((0, 0, 255), (2, 2))
"""An input image given as raw bytes (no MIME type known)."""
MASK = png((255, 255, 255), (2, 2))
"""The mask fal's image segmentation answers."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_url(mime: str, data: bytes = INPUT) -> str:
    return f"data:{mime};base64,{b64(data)}"


def base(provider: str, key: str, direct: str | None = None) -> str:
    return f"{ROUTER}/{provider}" if key == "hf" else (direct or DIRECT[provider])


def auth(provider: str, key: str) -> str:
    """fal's own API takes `Key <key>`; everything else, and the router, `Bearer <key>`."""
    scheme = "Key" if provider == "fal-ai" and key == "provider" else "Bearer"
    return f"{scheme} {KEYS[key]}"


# -- mocks and calls ------------------------------------------------------------------------


def mock_mapping(
    mock: respx.MockRouter, provider: str, task: str, provider_id: str = PROVIDER_ID
) -> respx.Route:
    entry = {"providerId": provider_id, "task": task, "status": "live"}
    payload = {"_id": "x", "id": MODEL, "inferenceProviderMapping": {provider: entry}}
    url = f"{HUB}/api/models/{MODEL}?expand=inferenceProviderMapping"
    return mock.get(url).mock(return_value=httpx.Response(200, json=payload))


def mock_download(
    mock: respx.MockRouter, content: bytes, mime: str, url: str = MEDIA_URL
) -> respx.Route:
    return mock.get(url).mock(
        return_value=httpx.Response(200, content=content, headers={"content-type": mime})
    )


def answers(*payloads: Any) -> list[httpx.Response]:
    return [httpx.Response(200, json=p) for p in payloads]


async def call(
    flavour: str, method: str, *args: Any, provider: str, key: str, **kwargs: Any
) -> Any:
    options = {"max_retries": 0, "provider": provider, "token": KEYS[key]}
    if flavour == "sync":
        with hfinfer.InferenceClient(**options) as client:
            return getattr(client, method)(*args, model=MODEL, **kwargs)
    async with hfinfer.AsyncInferenceClient(**options) as client:
        return await getattr(client, method)(*args, model=MODEL, **kwargs)


@pytest.fixture(autouse=True)
def fast_jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every job of the installed table polls at once (restored by monkeypatch afterwards)."""
    for name, spec in list(_providers.TABLE.items()):
        tasks = {
            task: route._replace(job=route.job._replace(interval=0.0, first_delay=0.0))
            for task, route in spec.tasks.items()
            if route.job is not None
        }
        if tasks:
            monkeypatch.setitem(
                _providers.TABLE, name, spec._replace(tasks={**spec.tasks, **tasks})
            )
    yield


# -- checks ---------------------------------------------------------------------------------


def check_post(
    route: respx.Route,
    url: str,
    authorization: str,
    headers: dict[str, str] | None = None,
    *,
    json_body: bool = True,
) -> Any:
    """The one POST of a call: its URL, auth and provider headers; its JSON body (or request)."""
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == url
    assert request.headers["authorization"] == authorization
    for name, value in (headers or {}).items():
        assert request.headers[name] == value
    if not json_body:
        return request
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.content)


def check_gets(
    route: respx.Route,
    url: str,
    authorization: str,
    count: int,
    headers: dict[str, str] | None = None,
) -> None:
    """A job's polls (or its result GET): `count` GETs of `url`, with the POST's auth."""
    assert route.call_count == count
    for sent in route.calls:
        assert sent.request.method == "GET"
        assert str(sent.request.url) == url
        assert sent.request.headers["authorization"] == authorization
        for name, value in (headers or {}).items():
            assert sent.request.headers[name] == value


def check_download(route: respx.Route, url: str = MEDIA_URL) -> None:
    """The media the answer points to: one plain GET, no token and no provider header."""
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "GET"
    assert str(request.url) == url
    for name in ("authorization", "prefer", "x-source-channel", "accept-language"):
        assert name not in request.headers


def check_png(out: Any, data: bytes = PNG) -> None:
    expected = Image.open(io.BytesIO(data))
    assert isinstance(out, Image.Image)
    assert out.size == expected.size
    assert out.convert("RGB").tobytes() == expected.convert("RGB").tobytes()


def parse_multipart(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """name → (filename, part content type, content) of a multipart/form-data request."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    assert message.is_multipart()
    parts: dict[str, tuple[str | None, str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        parts[name] = (part.get_filename(), part.get_content_type(), payload)
    return parts


# -- job cases ------------------------------------------------------------------------------


class Case(NamedTuple):
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    body: dict[str, Any]
    result: Any
    """The done job's answer, with the media at MEDIA_URL."""
    media: bytes | None
    """What MEDIA_URL serves (None: nothing is downloaded)."""


def source_of(source: str, mime: str) -> tuple[Any, str]:
    """The image argument and how it is sent: bytes as a data URL, a URL as it is."""
    return (INPUT, data_url(mime)) if source == "bytes" else (IMAGE_URL, IMAGE_URL)


def check_result(case: Case, out: Any) -> None:
    if case.method in ("text_to_image", "image_to_image"):
        check_png(out)
    elif case.method == "image_segmentation":
        assert [type(o) for o in out] == [hfinfer.ImageSegmentationOutputElement]
        assert out[0].label == "mask" and out[0].score is None
        check_png(out[0].mask, MASK)
    elif case.method == "automatic_speech_recognition":
        assert isinstance(out, hfinfer.AutomaticSpeechRecognitionOutput)
        assert out.text == "hello"
    else:
        assert out == case.media


# -- the pairs covered ----------------------------------------------------------------------

PAIRS = {
    ("deepinfra", "automatic-speech-recognition"),
    ("deepinfra", "text-to-speech"),
    ("together", "text-to-speech"),
    ("fal-ai", "automatic-speech-recognition"),
    ("fal-ai", "text-to-image"),
    ("fal-ai", "text-to-speech"),
    ("novita", "text-to-video"),
    ("nscale", "text-to-image"),
    ("together", "text-to-image"),
    ("together", "image-to-image"),
}
"""The pairs that answer at once, covered by test_provider_media_audio.py and
test_provider_media_images.py."""

REPLICATE_TASKS = (
    "automatic-speech-recognition",
    "image-to-image",
    "text-to-image",
    "text-to-speech",
    "text-to-video",
)
"""replicate's tasks, covered by test_provider_jobs_replicate.py."""
