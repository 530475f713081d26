"""Contract of the media (provider, task) pairs that answer at once — audio, images and video —
sync and async, with a Hugging Face token (the router) and a provider key (the provider's own
URL): the exact POST (method, URL, auth and provider headers, JSON or multipart body), the media
download it leads to (with no authorization), and the typed result.

The pairs that run as jobs are in test_provider_jobs_contract.py. The expectations are written
from huggingface_hub 2.4.0's wire format (the fact sheet, §3–§5), not read from the generated
table, so a wrong data file fails here.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from PIL import Image
from test_provider_contracts import FLAVOURS, HUB, KEYS, MODEL, PROVIDER_ID, ROUTER, check_lookup

import hfinfer

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


def mock_mapping(
    mock: respx.MockRouter, provider: str, task: str, provider_id: str = PROVIDER_ID
) -> respx.Route:
    entry = {"providerId": provider_id, "task": task, "status": "live"}
    payload = {"_id": "x", "id": MODEL, "inferenceProviderMapping": {provider: entry}}
    url = f"{HUB}/api/models/{MODEL}?expand=inferenceProviderMapping"
    return mock.get(url).mock(return_value=httpx.Response(200, json=payload))


async def call(
    flavour: str, method: str, *args: Any, provider: str, key: str, **kwargs: Any
) -> Any:
    options = {"max_retries": 0, "provider": provider, "token": KEYS[key]}
    if flavour == "sync":
        with hfinfer.InferenceClient(**options) as client:
            return getattr(client, method)(*args, model=MODEL, **kwargs)
    async with hfinfer.AsyncInferenceClient(**options) as client:
        return await getattr(client, method)(*args, model=MODEL, **kwargs)


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


def check_download(route: respx.Route, url: str = MEDIA_URL) -> None:
    """The media the answer points to: one plain GET, no token and no provider header."""
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "GET"
    assert str(request.url) == url
    for name in ("authorization", "prefer", "x-source-channel", "accept-language"):
        assert name not in request.headers


def mock_download(
    mock: respx.MockRouter, content: bytes, mime: str, url: str = MEDIA_URL
) -> respx.Route:
    return mock.get(url).mock(
        return_value=httpx.Response(200, content=content, headers={"content-type": mime})
    )


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
"""The pairs this file covers."""

ASR_ANSWER = {
    "text": "hello world",
    "segments": [
        {"id": 0, "start": 0.0, "end": 0.8, "text": "hello"},
        {"id": 1, "start": 0.8, "end": 1.5, "text": "world"},
    ],
}


# -- audio ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_deepinfra_asr_is_multipart(
    key: str, flavour: str, mock: respx.MockRouter, tmp_path: Path
) -> None:
    lookup = mock_mapping(mock, "deepinfra", "automatic-speech-recognition")
    url = base("deepinfra", key) + "/v1/openai/audio/transcriptions"
    post = mock.post(url).mock(return_value=httpx.Response(200, json=ASR_ANSWER))
    clip = tmp_path / "clip.flac"
    clip.write_bytes(AUDIO)
    extra = {"language": "en", "temperature": 0.2, "verbose": True, "granularities": ["segment"]}
    out = await call(
        flavour, "automatic_speech_recognition", clip, provider="deepinfra", key=key,
        extra_body={**extra, "model": "caller/model"},
    )  # fmt: skip
    request = check_post(post, url, auth("deepinfra", key), json_body=False)
    parts = parse_multipart(request)
    assert parts["file"] == ("audio.flac", "audio/flac", AUDIO)
    fields = {name: part[2].decode() for name, part in parts.items() if name != "file"}
    # strings as they are, booleans in JSON, numbers by str(), anything else JSON; the model wins
    assert fields == {
        "language": "en",
        "temperature": "0.2",
        "verbose": "true",
        "granularities": '["segment"]',
        "model": PROVIDER_ID,
    }
    assert all(part[0] is None for name, part in parts.items() if name != "file")
    check_lookup(lookup, key)
    assert isinstance(out, hfinfer.AutomaticSpeechRecognitionOutput)
    assert out.text == "hello world"
    assert out.chunks is not None
    assert [(c.text, list(c.timestamp)) for c in out.chunks] == [
        ("hello", [0.0, 0.8]),
        ("world", [0.8, 1.5]),
    ]
    # the file first, then the parameters, the model last (so it wins)
    assert list(parts) == ["file", "language", "temperature", "verbose", "granularities", "model"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_deepinfra_asr_of_raw_bytes(flavour: str, mock: respx.MockRouter) -> None:
    """Raw bytes have no MIME type: the part is `audio.wav`, typed application/octet-stream."""
    mock_mapping(mock, "deepinfra", "automatic-speech-recognition")
    url = "https://api.deepinfra.com/v1/openai/audio/transcriptions"
    post = mock.post(url).mock(return_value=httpx.Response(200, json={"text": "hi"}))
    out = await call(
        flavour, "automatic_speech_recognition", AUDIO, provider="deepinfra", key="provider"
    )
    parts = parse_multipart(check_post(post, url, auth("deepinfra", "provider"), json_body=False))
    assert parts["model"][2] == PROVIDER_ID.encode()
    assert out.text == "hi" and not out.chunks
    assert parts["file"] == ("audio.wav", "application/octet-stream", AUDIO)


SPEECH = {"deepinfra": "/v1/openai/audio/speech", "together": "/v1/audio/speech"}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("provider", sorted(SPEECH))
async def test_openai_speech(provider: str, key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, provider, "text-to-speech")
    url = base(provider, key) + SPEECH[provider]
    answer = httpx.Response(200, content=AUDIO, headers={"content-type": "audio/mpeg"})
    post = mock.post(url).mock(return_value=answer)
    out = await call(
        flavour, "text_to_speech", "Hello there", provider=provider, key=key, temperature=0.7,
        extra_body={"voice": "alloy", "response_format": "mp3"},
    )  # fmt: skip
    body = check_post(post, url, auth(provider, key))
    assert body == {
        "input": "Hello there",
        "temperature": 0.7,
        "voice": "alloy",  # together's API requires one
        "response_format": "mp3",
        "model": PROVIDER_ID,
    }
    check_lookup(lookup, key)
    assert out == AUDIO


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_deepinfra_speech_answering_json_is_an_error(
    flavour: str, mock: respx.MockRouter
) -> None:
    mock_mapping(mock, "deepinfra", "text-to-speech")
    url = "https://api.deepinfra.com/v1/openai/audio/speech"
    mock.post(url).mock(return_value=httpx.Response(200, json={"detail": "no audio"}))
    with pytest.raises(ValueError, match="JSON"):
        await call(flavour, "text_to_speech", "Hello", provider="deepinfra", key="provider")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("source", ["bytes", "url"])
async def test_fal_asr(source: str, key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "fal-ai", "automatic-speech-recognition")
    url = f"{base('fal-ai', key)}/{PROVIDER_ID}"
    post = mock.post(url).mock(return_value=httpx.Response(200, json={"text": "hello"}))
    audio = AUDIO if source == "bytes" else "https://audio.example.com/speech.wav"
    out = await call(
        flavour, "automatic_speech_recognition", audio, provider="fal-ai", key=key,
        extra_body={"task": "transcribe"},
    )  # fmt: skip
    body = check_post(post, url, auth("fal-ai", key))
    # bytes are always labelled audio/mpeg; a URL passes as it is (the URL was not mocked: no GET)
    sent = data_url("audio/mpeg", AUDIO) if source == "bytes" else audio
    assert body == {"audio_url": sent, "task": "transcribe"}
    check_lookup(lookup, key)
    assert isinstance(out, hfinfer.AutomaticSpeechRecognitionOutput)
    assert out.text == "hello"
    assert len(mock.calls) == 2


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_fal_speech(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "fal-ai", "text-to-speech")
    url = f"{base('fal-ai', key)}/{PROVIDER_ID}"
    answer = {"audio": {"url": MEDIA_URL, "content_type": "audio/wav"}}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    download = mock_download(mock, AUDIO, "audio/wav")
    out = await call(flavour, "text_to_speech", "Hello", provider="fal-ai", key=key, top_k=5)
    assert check_post(post, url, auth("fal-ai", key)) == {"text": "Hello", "top_k": 5}
    check_download(download)
    check_lookup(lookup, key)
    assert out == AUDIO


# -- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_fal_text_to_image(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "fal-ai", "text-to-image")
    url = f"{base('fal-ai', key)}/{PROVIDER_ID}"
    answer = {"images": [{"url": MEDIA_URL, "width": 3, "height": 2}], "seed": 1}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    download = mock_download(mock, PNG, "image/png")
    out = await call(
        flavour, "text_to_image", "a red square", provider="fal-ai", key=key,
        width=640, height=320, num_inference_steps=4,
    )  # fmt: skip
    body = check_post(post, url, auth("fal-ai", key), {"accept": "image/png"})
    assert body == {
        "prompt": "a red square",
        "image_size": {"width": 640, "height": 320},
        "num_inference_steps": 4,
    }
    check_download(download)
    check_lookup(lookup, key)
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_nscale_text_to_image(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "nscale", "text-to-image")
    url = base("nscale", key) + "/v1/images/generations"
    answer = {"created": 1, "data": [{"b64_json": b64(PNG)}]}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    with pytest.warns(UserWarning, match="num_inference_steps"):
        out = await call(
            flavour, "text_to_image", "a red square", provider="nscale", key=key,
            width=640, height=320, num_inference_steps=4, guidance_scale=3.5,
        )  # fmt: skip
    body = check_post(post, url, auth("nscale", key), {"accept": "image/png"})
    assert body == {
        "response_format": "b64_json",
        "prompt": "a red square",
        "size": "640x320",
        "guidance_scale": 3.5,
        "model": PROVIDER_ID,
    }
    check_lookup(lookup, key)
    assert len(mock.calls) == 2  # no download: the image is in the answer
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_together_text_to_image(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "together", "text-to-image")
    url = base("together", key) + "/v1/images/generations"
    answer = {"id": "i-1", "data": [{"index": 0, "b64_json": b64(PNG)}]}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    out = await call(
        flavour, "text_to_image", "a red square", provider="together", key=key,
        width=640, height=320, num_inference_steps=4, seed=7,
    )  # fmt: skip
    body = check_post(post, url, auth("together", key), {"accept": "image/png"})
    assert body == {
        "prompt": "a red square",
        "response_format": "base64",
        "width": 640,
        "height": 320,
        "steps": 4,
        "seed": 7,
        "model": PROVIDER_ID,
    }
    assert list(body)[-1] == "model"
    check_lookup(lookup, key)
    check_png(out)


KONTEXT = "black-forest-labs/FLUX.1-Kontext-dev"
FLUX2 = "black-forest-labs/FLUX.2-dev"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("source", ["bytes", "url"])
@pytest.mark.parametrize(("provider_id", "prompt"), [(KONTEXT, None), (KONTEXT, "blue"), (FLUX2, None), (FLUX2, "blue")])  # fmt: skip
async def test_together_image_to_image(
    provider_id: str,
    prompt: str | None,
    source: str,
    key: str,
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    lookup = mock_mapping(mock, "together", "image-to-image", provider_id)
    url = base("together", key) + "/v1/images/generations"
    answer = {"data": [{"b64_json": b64(PNG)}]}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    image = INPUT if source == "bytes" else IMAGE_URL
    out = await call(
        flavour, "image_to_image", image, prompt, provider="together", key=key,
        num_inference_steps=8,
    )  # fmt: skip
    body = check_post(post, url, auth("together", key), {"accept": "image/png"})
    sent = data_url("image/jpeg") if source == "bytes" else IMAGE_URL  # a URL is not downloaded
    if provider_id == KONTEXT:  # FLUX.1 Kontext: one image_url, and a prompt ("" by default)
        expected = {"prompt": prompt or "", "image_url": sent}
    else:
        expected = {"reference_images": [sent], **({"prompt": prompt} if prompt else {})}
    expected |= {"response_format": "base64", "steps": 8, "model": provider_id}
    assert body == expected
    check_lookup(lookup, key)
    assert len(mock.calls) == 2
    check_png(out)


# -- video ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_novita_text_to_video(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "novita", "text-to-video")
    url = f"{base('novita', key)}/v3/hf/{PROVIDER_ID}"
    answer = {"video": {"video_url": MEDIA_URL, "video_type": "mp4"}}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    download = mock_download(mock, VIDEO, "video/mp4")
    out = await call(
        flavour, "text_to_video", "a dog running", provider="novita", key=key,
        num_frames=16, negative_prompt=["blurry"],
    )  # fmt: skip
    body = check_post(post, url, auth("novita", key))
    assert body == {"prompt": "a dog running", "num_frames": 16, "negative_prompt": ["blurry"]}
    check_download(download)
    check_lookup(lookup, key)
    assert out == VIDEO


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_novita_answer_without_video_url_is_an_error(
    flavour: str, mock: respx.MockRouter
) -> None:
    mock_mapping(mock, "novita", "text-to-video")
    url = f"https://api.novita.ai/v3/hf/{PROVIDER_ID}"
    mock.post(url).mock(return_value=httpx.Response(200, json={"task": {"id": "1"}}))
    with pytest.raises(ValueError):
        await call(flavour, "text_to_video", "a dog", provider="novita", key="provider")
