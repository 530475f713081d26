"""Helpers of the respx contract tests: clients, case tables, media, SSE streams.

Every contract case runs twice, through `InferenceClient` and through `AsyncInferenceClient`,
against respx mocks (no network). A case says what is called, what must go on the wire and what
must come back.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

import hfinfer

IE = "https://api-inference.huggingface.co"
ENDPOINT = "http://endpoint.test/custom/path"
"""A model given as a URL: used verbatim by every task except chat."""

FLAVOURS = ("sync", "async")


# -- media ------------------------------------------------------------------------------------


def png_bytes(
    size: tuple[int, int] = (7, 5), mode: str = "RGB", color: Any = (200, 10, 30)
) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


AUDIO = b"fLaC\x00\x00\x00\x22fake-flac-payload\xff\x00\x01"
IMAGE = png_bytes((11, 9))


# -- running a call through either client --------------------------------------------------------


async def call(
    flavour: str,
    method: str,
    *args: Any,
    client_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Call `method` on a fresh sync or async client (token=False, no retries)."""
    options: dict[str, Any] = {"token": False, "max_retries": 0, **(client_kwargs or {})}
    if flavour == "sync":
        with hfinfer.InferenceClient(**options) as client:
            return getattr(client, method)(*args, **kwargs)
    async with hfinfer.AsyncInferenceClient(**options) as client:
        return await getattr(client, method)(*args, **kwargs)


async def collect(
    flavour: str,
    method: str,
    *args: Any,
    client_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Call a streaming method and gather every chunk (the stream is consumed before closing)."""
    options: dict[str, Any] = {"token": False, "max_retries": 0, **(client_kwargs or {})}
    if flavour == "sync":
        with hfinfer.InferenceClient(**options) as client:
            stream = getattr(client, method)(*args, **kwargs)
            assert isinstance(stream, hfinfer.Stream)
            return list(stream)
    async with hfinfer.AsyncInferenceClient(**options) as client:
        astream = await getattr(client, method)(*args, **kwargs)
        assert isinstance(astream, hfinfer.AsyncStream)
        return [item async for item in astream]


# -- the request that was sent ------------------------------------------------------------------


def only_request(route: respx.Route) -> httpx.Request:
    assert route.call_count == 1, f"expected exactly one call, got {route.call_count}"
    return route.calls.last.request


def sent_json(request: httpx.Request) -> Any:
    assert request.headers.get("content-type") == "application/json"
    return json.loads(request.content)


# -- table-driven cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One contract: `client.<method>(*args, model=..., **kwargs)` → request → typed result."""

    id: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    model: str
    """The model id; the URL variant of the case uses `ENDPOINT` instead."""
    body: Any
    """Expected body: a JSON value (compared after json.loads) or raw `bytes`."""
    response: Any
    """The server's answer: bytes are sent as is, anything else as JSON."""
    check: Callable[[Any], None]
    route: str = "models"
    """`models`, `pipeline/<task>`, or `chat`."""
    accept: str | None = None
    marks: Sequence[Any] = field(default_factory=tuple)

    def url(self, target: str) -> str:
        if self.route == "chat":
            base = ENDPOINT if target == "url" else f"{IE}/models/{self.model}"
            return base + "/v1/chat/completions"
        if target == "url":
            return ENDPOINT
        if self.route == "models":
            return f"{IE}/models/{self.model}"
        return f"{IE}/{self.route}/{self.model}"

    def expected_body(self, target: str) -> Any:
        if self.route == "chat":
            return {**self.body, "model": "tgi" if target == "url" else self.model}
        return self.body

    def reply(self) -> httpx.Response:
        if isinstance(self.response, bytes):
            return httpx.Response(200, content=self.response)
        return httpx.Response(200, json=self.response)


def case_params(cases: Sequence[Case]) -> list[Any]:
    return [pytest.param(c, id=c.id, marks=c.marks) for c in cases]


async def run_case(case: Case, flavour: str, target: str, mock: respx.MockRouter) -> None:
    """Send the case through one client flavour and assert request and result."""
    url = case.url(target)
    route = mock.post(url).mock(return_value=case.reply())
    model = ENDPOINT if target == "url" else case.model
    result = await call(flavour, case.method, *case.args, model=model, **case.kwargs)
    request = only_request(route)
    assert request.method == "POST"
    assert str(request.url) == url
    if case.accept is not None:
        assert request.headers["accept"] == case.accept
    else:
        assert request.headers.get("accept") != "image/png"
    assert "authorization" not in request.headers
    expected = case.expected_body(target)
    if isinstance(expected, bytes):
        assert request.content == expected
        assert request.headers.get("content-type") != "application/json"
    else:
        assert sent_json(request) == expected
    case.check(result)


# -- server-sent events split into arbitrary pieces ----------------------------------------------


class PiecesStream(httpx.SyncByteStream):
    def __init__(self, pieces: Sequence[bytes]) -> None:
        self._pieces = list(pieces)

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces


class AsyncPiecesStream(httpx.AsyncByteStream):
    def __init__(self, pieces: Sequence[bytes]) -> None:
        self._pieces = list(pieces)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            yield piece


def sse_response(
    pieces: Sequence[bytes], flavour: str
) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering 200 text/event-stream, body delivered in `pieces`."""

    def respond(request: httpx.Request) -> httpx.Response:
        stream: httpx.SyncByteStream | httpx.AsyncByteStream = (
            PiecesStream(pieces) if flavour == "sync" else AsyncPiecesStream(pieces)
        )
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=stream, request=request
        )

    return respond


def split_at(data: bytes, *positions: int) -> list[bytes]:
    """`data` cut at the given offsets (sorted, deduplicated)."""
    cuts = [0, *sorted(set(positions)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts) if b > a]
