"""Every audio/image method accepts bytes, a Path, a str path, a file object, a URL (downloaded
with a GET, then its bytes are sent) and, for images, a PIL image; the same bytes reach the wire."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from contract_helpers import AUDIO, FLAVOURS, IE, IMAGE, call, only_request
from PIL import Image

FILE_URL = "http://files.test/img.png"
MODEL = "org/model"


def raw(request: httpx.Request) -> bytes:
    assert request.headers.get("content-type") != "application/json"
    return request.content


def json_at(*path: str) -> Callable[[httpx.Request], bytes]:
    def extract(request: httpx.Request) -> bytes:
        assert request.headers["content-type"] == "application/json"
        node: Any = json.loads(request.content)
        for key in path:
            node = node[key]
        return base64.b64decode(node, validate=True)

    return extract


# method, args after the binary one, kwargs, response, is-image, reader of the sent bytes
METHODS: list[tuple[str, tuple[Any, ...], dict[str, Any], Any, bool, Any]] = [
    ("audio_classification", (), {}, [], False, raw),
    ("audio_classification", (), {"top_k": 1}, [], False, json_at("inputs")),
    ("audio_to_audio", (), {}, [], False, raw),
    ("automatic_speech_recognition", (), {}, {"text": "x"}, False, raw),
    ("document_question_answering", ("q?",), {}, [], True, json_at("inputs", "image")),
    ("image_classification", (), {}, [], True, raw),
    ("image_classification", (), {"top_k": 1}, [], True, json_at("inputs")),
    ("image_segmentation", (), {}, [], True, raw),
    ("image_segmentation", (), {"threshold": 0.5}, [], True, json_at("inputs")),
    ("image_to_image", (), {}, IMAGE, True, raw),
    ("image_to_image", ("a prompt",), {}, IMAGE, True, json_at("inputs")),
    ("image_to_text", (), {}, [{"generated_text": "x"}], True, raw),
    ("object_detection", (), {}, [], True, raw),
    ("object_detection", (), {"threshold": 0.5}, [], True, json_at("inputs")),
    ("visual_question_answering", ("q?",), {}, [], True, json_at("image")),
    ("zero_shot_image_classification", (["a", "b"],), {}, [], True, json_at("inputs", "image")),
]
METHOD_PARAMS = [
    pytest.param(*m, id=f"{m[0]}-{'raw' if m[5] is raw else 'json'}-{i}")
    for i, m in enumerate(METHODS)
]
KINDS = ("bytes", "path", "str-path", "file", "bytearray")


def reply(response: Any) -> httpx.Response:
    if isinstance(response, bytes):
        return httpx.Response(200, content=response)
    return httpx.Response(200, json=response)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "more", "kwargs", "response", "is_image", "read"), METHOD_PARAMS
)
async def test_local_binary_inputs(
    method: str,
    more: tuple[Any, ...],
    kwargs: dict[str, Any],
    response: Any,
    is_image: bool,
    read: Callable[[httpx.Request], bytes],
    flavour: str,
    kind: str,
    tmp_path: Path,
    mock: respx.MockRouter,
) -> None:
    payload = IMAGE if is_image else AUDIO
    file = tmp_path / ("input.png" if is_image else "input.flac")
    file.write_bytes(payload)
    route = mock.post(f"{IE}/models/{MODEL}").mock(return_value=reply(response))
    if kind == "file":
        with file.open("rb") as handle:
            await call(flavour, method, handle, *more, model=MODEL, **kwargs)
    else:
        value: Any = {"bytes": payload, "path": file, "str-path": str(file),
                      "bytearray": bytearray(payload)}[kind]  # fmt: skip
        await call(flavour, method, value, *more, model=MODEL, **kwargs)
    request = only_request(route)
    assert request.method == "POST"
    assert read(request) == payload


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "more", "kwargs", "response", "is_image", "read"), METHOD_PARAMS
)
async def test_url_input_is_downloaded_and_sent(
    method: str,
    more: tuple[Any, ...],
    kwargs: dict[str, Any],
    response: Any,
    is_image: bool,
    read: Callable[[httpx.Request], bytes],
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    payload = IMAGE if is_image else AUDIO
    download = mock.get(FILE_URL).mock(return_value=httpx.Response(200, content=payload))
    route = mock.post(f"{IE}/models/{MODEL}").mock(return_value=reply(response))
    await call(
        flavour, method, FILE_URL, *more, model=MODEL, client_kwargs={"token": "hf_secret"},
        **kwargs,
    )  # fmt: skip
    fetched = only_request(download)
    assert fetched.method == "GET"
    assert str(fetched.url) == FILE_URL
    assert "authorization" not in fetched.headers  # the token never goes to arbitrary hosts
    request = only_request(route)
    assert request.headers["authorization"] == "Bearer hf_secret"
    assert read(request) == payload


@pytest.mark.parametrize("source", ["new", "opened-png"])
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "more", "kwargs", "response", "is_image", "read"),
    [p for p in METHOD_PARAMS if p.values[4]],
)
async def test_pil_image_input(
    method: str,
    more: tuple[Any, ...],
    kwargs: dict[str, Any],
    response: Any,
    is_image: bool,
    read: Callable[[httpx.Request], bytes],
    flavour: str,
    source: str,
    mock: respx.MockRouter,
) -> None:
    if source == "new":
        image = Image.new("RGB", (13, 6), (1, 2, 3))
    else:
        image = Image.open(io.BytesIO(IMAGE))
    expected = image.convert("RGB").tobytes()
    route = mock.post(f"{IE}/models/{MODEL}").mock(return_value=reply(response))
    await call(flavour, method, image, *more, model=MODEL, **kwargs)
    sent = Image.open(io.BytesIO(read(only_request(route))))
    assert sent.format == "PNG"
    assert sent.size == image.size
    assert sent.convert("RGB").tobytes() == expected
