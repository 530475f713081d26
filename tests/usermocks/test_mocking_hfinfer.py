"""Users' own tests: mocking hfinfer's clients with the usual HTTP mocking libraries.

Written as a user would, with each library's defaults:

- respx (`with respx.mock:`, whose default mocker patches httpcore) and pytest-httpx's
  `httpx_mock` fixture (which patches httpx's own transports) intercept `InferenceClient` and
  `AsyncInferenceClient(engine="httpx")`: both send through httpx's own transports;
- aioresponses intercepts `AsyncInferenceClient()` on its default engine, aiohttp (aioresponses
  0.7.9 cannot build a response on aiohttp >= 3.14: see `AIORESPONSES_BROKEN` and the
  `response_class=` workaround);
- respx's "httpx" mocker (`respx.mock(using="httpx")`, which patches where the httpx client picks
  its transport) intercepts every engine, aiohttp included.

No request leaves the process: an unmocked one would fail (respx and pytest-httpx raise for it,
aioresponses answers ClientConnectionError), and tests/conftest.py allows loopback sockets only.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from typing import Any
from unittest.mock import Mock

import aiohttp
import httpx
import pytest
import respx
import respx.mocks
from aioresponses import aioresponses
from aioresponses.core import RequestMatch
from pytest_httpx import HTTPXMock
from yarl import URL

from hfinfer import (
    AsyncInferenceClient,
    BadRequestError,
    HfHubHTTPError,
    InferenceClient,
    InferenceConnectionError,
    TextClassificationOutputElement,
)

ENDPOINT = "http://localhost:8080"
TOKEN = "hf_user_token"
LABELS = [{"label": "POSITIVE", "score": 0.99}, {"label": "NEGATIVE", "score": 0.01}]
SSE = (
    'data: {"choices":[{"delta":{"content":"Hel"},"index":0}],"created":1,"id":"c","model":"m"}'
    "\n\n"
    'data: {"choices":[{"delta":{"content":"lo"},"index":0}],"created":1,"id":"c","model":"m"}'
    "\n\n"
    "data: [DONE]\n\n"
)
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(autouse=True)
def respx_own_default_mocker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """tests/conftest.py switches respx's default mocker to "httpx" for the whole suite (the
    contract tests mock every engine at the httpx client level). A user's project has respx's
    own default, "httpcore": restore it here, so that these tests are what a user would run."""
    monkeypatch.setattr(respx.mocks, "DEFAULT_MOCKER", respx.mocks.HTTPCoreMocker.name)
    yield


def _labels(out: list[TextClassificationOutputElement]) -> list[tuple[str, float]]:
    assert all(isinstance(e, TextClassificationOutputElement) for e in out)
    return [(e.label, e.score) for e in out]


def _check_request(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert (request.url.scheme, request.url.host, request.url.port) == ("http", "localhost", 8080)
    assert request.url.path == "/"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"inputs": "I love this"}


# -- respx, its default mocker (httpcore) ---------------------------------------------------------


def test_respx_mocks_the_sync_client() -> None:
    # hfinfer posts to the endpoint URL as given (`http://localhost:8080`); respx's httpcore
    # mocker sees it with its path, "/": the route names it so.
    with respx.mock:
        route = respx.post(ENDPOINT + "/").mock(return_value=httpx.Response(200, json=LABELS))
        client = InferenceClient(ENDPOINT, token=TOKEN)
        out = client.text_classification("I love this")
    assert _labels(out) == [("POSITIVE", 0.99), ("NEGATIVE", 0.01)]
    assert route.call_count == 1
    _check_request(route.calls.last.request)


def test_respx_mocks_a_sync_stream() -> None:
    with respx.mock:
        route = respx.post(ENDPOINT + "/v1/chat/completions").mock(
            return_value=httpx.Response(
                200, text=SSE, headers={"content-type": "text/event-stream"}
            )
        )
        client = InferenceClient(ENDPOINT, token=TOKEN)
        chunks = list(client.chat_completion(MESSAGES, stream=True, max_tokens=8))
    assert "".join(c.choices[0].delta.content for c in chunks) == "Hello"
    body = json.loads(route.calls.last.request.content)
    assert body == {"messages": MESSAGES, "stream": True, "max_tokens": 8, "model": "tgi"}


def test_respx_mocks_an_error_status() -> None:
    with respx.mock:
        respx.post(ENDPOINT + "/").mock(
            return_value=httpx.Response(503, json={"error": "Service Unavailable"})
        )
        client = InferenceClient(ENDPOINT, token=TOKEN, max_retries=0)
        with pytest.raises(HfHubHTTPError) as info:
            client.text_classification("I love this")
    assert info.value.status_code == 503
    assert info.value.server_message == "Service Unavailable"


async def test_respx_mocks_the_async_client_on_the_httpx_engine() -> None:
    async with respx.mock:
        route = respx.post(ENDPOINT + "/").mock(return_value=httpx.Response(200, json=LABELS))
        async with AsyncInferenceClient(ENDPOINT, token=TOKEN, engine="httpx") as client:
            out = await client.text_classification("I love this")
    assert _labels(out) == [("POSITIVE", 0.99), ("NEGATIVE", 0.01)]
    _check_request(route.calls.last.request)


async def test_respx_default_mocker_does_not_see_the_aiohttp_engine() -> None:
    """httpcore is not beneath the aiohttp engine: respx's default mocker does not intercept it
    (use aioresponses, `engine="httpx"`, or `respx.mock(using="httpx")`). Nothing listens on
    port 9 here: the unmocked call fails to connect."""
    async with respx.mock(assert_all_called=False):
        route = respx.post("http://127.0.0.1:9/").mock(return_value=httpx.Response(200, json=[]))
        async with AsyncInferenceClient("http://127.0.0.1:9", token=False, max_retries=0) as client:
            assert client.engine == "aiohttp"
            with pytest.raises(InferenceConnectionError):
                await client.text_classification("I love this")
    assert not route.called


async def test_respx_httpx_mocker_mocks_every_engine() -> None:
    # The httpx mocker matches httpx's URL as sent, without the "/" httpcore adds.
    with respx.mock(using="httpx") as router:
        route = router.post(ENDPOINT).mock(return_value=httpx.Response(200, json=LABELS))
        async with AsyncInferenceClient(ENDPOINT, token=TOKEN) as client:  # aiohttp
            out = await client.text_classification("I love this")
    assert _labels(out)[0] == ("POSITIVE", 0.99)
    _check_request(route.calls.last.request)


# -- pytest-httpx ---------------------------------------------------------------------------------


def test_httpx_mock_mocks_the_sync_client(httpx_mock: HTTPXMock) -> None:
    # pytest-httpx matches the URL as sent: `http://localhost:8080`, no trailing "/".
    httpx_mock.add_response(method="POST", url=ENDPOINT, json=LABELS)
    client = InferenceClient(ENDPOINT, token=TOKEN)
    out = client.text_classification("I love this")
    assert _labels(out) == [("POSITIVE", 0.99), ("NEGATIVE", 0.01)]
    request = httpx_mock.get_request()
    assert request is not None
    _check_request(request)
    # on teardown, httpx_mock checks that every response was requested and nothing else was


async def test_httpx_mock_mocks_the_async_client_on_the_httpx_engine(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(method="POST", url=ENDPOINT, json=LABELS)
    async with AsyncInferenceClient(ENDPOINT, token=TOKEN, engine="httpx") as client:
        out = await client.text_classification("I love this")
    assert _labels(out) == [("POSITIVE", 0.99), ("NEGATIVE", 0.01)]
    request = httpx_mock.get_request()
    assert request is not None
    _check_request(request)


async def test_httpx_mock_mocks_an_async_stream_on_the_httpx_engine(
    httpx_mock: HTTPXMock,
) -> None:
    httpx_mock.add_response(
        method="POST",
        url=ENDPOINT + "/v1/chat/completions",
        text=SSE,
        headers={"content-type": "text/event-stream"},
    )
    async with AsyncInferenceClient(ENDPOINT, token=TOKEN, engine="httpx") as client:
        stream = await client.chat_completion(MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content async for c in stream])
    assert text == "Hello"
    request = httpx_mock.get_request()
    assert request is not None and json.loads(request.content)["stream"] is True


# -- aioresponses, for the default async engine ---------------------------------------------------


def _aioresponses_builds_aiohttp_responses() -> bool:
    """aioresponses 0.7.9 predates aiohttp 3.14, whose ClientResponse requires `stream_writer`:
    it cannot build any response (TypeError), for hfinfer or anyone."""
    needed = "stream_writer" in inspect.signature(aiohttp.ClientResponse).parameters
    return not needed or "stream_writer" in inspect.getsource(RequestMatch._build_response)


AIORESPONSES_BROKEN = pytest.mark.xfail(
    not _aioresponses_builds_aiohttp_responses(),
    strict=True,
    raises=TypeError,
    reason="aioresponses 0.7.9 on aiohttp >= 3.14: ClientResponse.__init__() missing the"
    " required keyword-only argument 'stream_writer' (the fork aioresponses-ng 0.8.2 passes"
    " one; so does `response_class=` below)",
)


class StreamWriterResponse(aiohttp.ClientResponse):
    """A workaround for aioresponses 0.7.9 on aiohttp 3.14 (`response_class=`): hand the
    response the `stream_writer` it needs, as aioresponses-ng does."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", Mock(output_size=0))
        super().__init__(*args, **kwargs)


def _options(workaround: bool) -> dict[str, Any]:
    return {"response_class": StreamWriterResponse} if workaround else {}


@pytest.mark.parametrize(
    "workaround", [pytest.param(False, marks=AIORESPONSES_BROKEN, id="plain"), True]
)
async def test_aioresponses_mocks_the_async_client_on_its_default_engine(workaround: bool) -> None:
    with aioresponses() as mocked:
        mocked.post(ENDPOINT + "/", payload=LABELS, **_options(workaround))
        async with AsyncInferenceClient(ENDPOINT, token=TOKEN) as client:
            assert client.engine == "aiohttp"
            out = await client.text_classification("I love this")
    assert _labels(out) == [("POSITIVE", 0.99), ("NEGATIVE", 0.01)]
    # aioresponses records the URL as sent (no trailing "/") and aiohttp's arguments
    (call,) = mocked.requests[("POST", URL(ENDPOINT))]
    headers = dict(call.kwargs["headers"])  # as hfinfer hands them to aiohttp: a list of pairs
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert json.loads(call.kwargs["data"]) == {"inputs": "I love this"}


@pytest.mark.parametrize(
    "workaround", [pytest.param(False, marks=AIORESPONSES_BROKEN, id="plain"), True]
)
async def test_aioresponses_mocks_a_stream_and_an_error(workaround: bool) -> None:
    with aioresponses() as mocked:
        mocked.post(
            ENDPOINT + "/v1/chat/completions",
            body=SSE,
            content_type="text/event-stream",
            **_options(workaround),
        )
        mocked.post(
            ENDPOINT + "/",
            status=400,
            payload={"error": "inputs must be shorter"},
            **_options(workaround),
        )
        async with AsyncInferenceClient(ENDPOINT, token=TOKEN, max_retries=0) as client:
            stream = await client.chat_completion(MESSAGES, stream=True)
            assert "".join([c.choices[0].delta.content async for c in stream]) == "Hello"
            with pytest.raises(BadRequestError) as info:
                await client.text_classification("I love this")
    assert info.value.status_code == 400
    assert info.value.server_message == "inputs must be shorter"
    (call,) = mocked.requests[("POST", URL(ENDPOINT + "/v1/chat/completions"))]
    assert json.loads(call.kwargs["data"])["messages"] == MESSAGES
