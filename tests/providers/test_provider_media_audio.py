"""Contract of the audio (provider, task) pairs that answer at once — deepinfra's and fal's
speech recognition, deepinfra's, together's and fal's speech — sync and async, with a Hugging Face
token (the router) and a provider key (the provider's own URL): the exact POST (method, URL, auth
and provider headers, JSON or multipart body), the media download it leads to (with no
authorization), and the typed result.

The images and video that answer at once are in test_provider_media_images.py, the pairs that run
as jobs in test_provider_jobs_*.py; the shared helpers in media_helpers.py. The expectations are
written from huggingface_hub 2.4.0's wire format (the fact sheet, §3–§5), not read from the
generated table, so a wrong data file fails here.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, KEYS, PROVIDER_ID, check_lookup

import hfinfer
from tests.providers.media_helpers import (
    AUDIO,
    MEDIA_URL,
    auth,
    base,
    call,
    check_download,
    check_post,
    data_url,
    mock_download,
    mock_mapping,
    parse_multipart,
)

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
