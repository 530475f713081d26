"""The aiohttp engine's direct route (`hfinfer._direct`) against real sockets.

A plain call on hfinfer's own aiohttp client skips httpx's request and response models; these
tests pin that it sends exactly what httpx's path sends, that it steps aside whenever httpx must
send (an event hook, a mock at the client level, cookies), and that redirects, cookies set by the
server, compressed answers and server errors behave as on httpx's path.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any
from unittest import mock

import httpx
import pytest
import respx

from hfinfer import AsyncInferenceClient, HfHubHTTPError

from .rawserver import RawServer, raw_server, respond

pytestmark = pytest.mark.timeout(30)

LABELS = b'[{"label":"POSITIVE","score":0.9}]'
TOKEN = "hf_secret_token"


def _client(url: str, **options: Any) -> AsyncInferenceClient:
    return AsyncInferenceClient(url, token=TOKEN, engine="aiohttp", max_retries=0, **options)


def _routes(client: AsyncInferenceClient) -> list[Any]:
    """The direct routes the client's httpx client found (None where httpx must send)."""
    return [route for _, route in client.http.direct_routes.values()]  # type: ignore[attr-defined]


def _parts(request: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = request.partition(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return line, headers, body


async def _classify(
    client: AsyncInferenceClient, text: str = "I like you", routes: list[Any] | None = None
) -> list[Any]:
    try:
        return [(e.label, e.score) for e in await client.text_classification(text)]
    finally:
        if routes is not None:
            routes.extend(_routes(client))
        await client.close()


def test_a_plain_call_sends_what_httpx_sends() -> None:
    with raw_server(respond(LABELS)) as server:
        routes: list[Any] = []
        direct = _client(server.url, headers={"X-Trace": "1"})
        assert asyncio.run(_classify(direct, routes=routes)) == [("POSITIVE", 0.9)]
        assert len(routes) == 1 and routes[0] is not None

        seen: list[httpx.Request] = []

        async def hook(request: httpx.Request) -> None:
            seen.append(request)

        through_httpx = _client(server.url, headers={"X-Trace": "1"})
        through_httpx.http.event_hooks["request"].append(hook)
        routes.clear()
        assert asyncio.run(_classify(through_httpx, routes=routes)) == [("POSITIVE", 0.9)]
        assert len(seen) == 1  # the hook saw the request: httpx sent it
        assert routes == []

    (line_a, headers_a, body_a), (line_b, headers_b, body_b) = map(_parts, server.requests)
    assert line_a == line_b == b"POST / HTTP/1.1"
    assert body_a == body_b == b'{"inputs":"I like you"}'
    assert headers_a == headers_b
    assert headers_a[b"authorization"] == f"Bearer {TOKEN}".encode()
    assert headers_a[b"content-type"] == b"application/json"
    assert headers_a[b"x-trace"] == b"1"
    assert headers_a[b"content-length"] == str(len(body_a)).encode()


def test_a_client_level_mock_wins_over_a_route_found_before() -> None:
    async def main(server: RawServer) -> list[Any]:
        client = _client(server.url)
        results = [await client.text_classification("real")]
        with respx.mock(using="httpx", assert_all_called=True) as router:
            router.post(server.url).mock(
                return_value=httpx.Response(200, json=[{"label": "MOCKED", "score": 1.0}])
            )
            results.append(await client.text_classification("mocked"))
        results.append(await client.text_classification("real again"))
        await client.close()
        return [[e.label for e in result] for result in results]

    with raw_server(respond(LABELS)) as server:
        assert asyncio.run(main(server)) == [["POSITIVE"], ["MOCKED"], ["POSITIVE"]]
    assert len(server.requests) == 2  # the mocked call never reached the server


def test_a_cookie_set_on_the_direct_route_is_sent_next() -> None:
    async def main(server: RawServer) -> None:
        client = _client(server.url)
        await client.text_classification("first")
        assert client.http.cookies.get("session") == "abc"
        await client.text_classification("second")
        await client.close()

    set_cookie = respond(LABELS, headers="set-cookie: session=abc; Path=/\r\n")
    with raw_server(set_cookie, respond(LABELS)) as server:
        asyncio.run(main(server))
    assert b"cookie" not in _parts(server.requests[0])[1]
    assert _parts(server.requests[1])[1][b"cookie"] == b"session=abc"


def test_a_compressed_answer_is_decoded() -> None:
    body = gzip.compress(LABELS)
    with raw_server(respond(body, headers="content-encoding: gzip\r\n")) as server:
        assert asyncio.run(_classify(_client(server.url))) == [("POSITIVE", 0.9)]


@pytest.mark.parametrize(
    ("status", "method", "body"),
    [
        ("307 Temporary Redirect", b"POST", b'{"inputs":"I like you"}'),
        ("303 See Other", b"GET", b""),
    ],
)
def test_a_redirect_is_followed_by_httpx_rules(status: str, method: bytes, body: bytes) -> None:
    moved = respond(b"", status=status, headers="location: /v2\r\n")
    with raw_server(moved, respond(LABELS)) as server:
        assert asyncio.run(_classify(_client(server.url))) == [("POSITIVE", 0.9)]
    assert len(server.requests) == 2
    line, headers, sent = _parts(server.requests[1])
    assert line == method + b" /v2 HTTP/1.1"
    assert sent == body
    assert headers[b"authorization"] == f"Bearer {TOKEN}".encode()  # same origin: kept


def test_a_server_error_keeps_its_message_status_and_request_id() -> None:
    error = json.dumps({"error": "model is on fire"}).encode()
    reply = respond(
        error,
        status="500 Internal Server Error",
        headers="content-type: application/json\r\nx-request-id: req-42\r\n",
    )
    with raw_server(reply) as server, pytest.raises(HfHubHTTPError) as caught:
        asyncio.run(_classify(_client(server.url)))
    assert caught.value.status_code == 500
    assert caught.value.server_message == "model is on fire"
    assert caught.value.request_id == "req-42"
    assert caught.value.response.request.url == httpx.URL(server.url)


def test_a_3xx_without_location_is_an_http_error_not_a_redirect() -> None:
    reply = respond(b"", status="304 Not Modified")
    with raw_server(reply) as server, pytest.raises(HfHubHTTPError) as caught:
        asyncio.run(_classify(_client(server.url)))
    assert caught.value.status_code == 304
    assert len(server.requests) == 1


def test_a_mock_of_httpx_send_is_honoured() -> None:
    async def fake_send(
        self: httpx.AsyncClient, request: httpx.Request, **_: Any
    ) -> httpx.Response:
        return httpx.Response(200, json=[{"label": "FROM_MOCK", "score": 1.0}], request=request)

    with raw_server(respond(LABELS)) as server:
        with mock.patch.object(httpx.AsyncClient, "send", fake_send):
            assert asyncio.run(_classify(_client(server.url))) == [("FROM_MOCK", 1.0)]
        assert server.requests == []


def test_a_cookie_set_by_an_error_answer_goes_with_the_retry() -> None:
    busy = respond(b'{"error":"busy"}', status="503 Service Unavailable",
                   headers="set-cookie: sticky=node-2; Path=/\r\n")  # fmt: skip
    with raw_server(busy, respond(LABELS)) as server:
        client = AsyncInferenceClient(server.url, token=TOKEN, engine="aiohttp", max_retries=1)
        assert asyncio.run(_classify(client)) == [("POSITIVE", 0.9)]
    assert _parts(server.requests[1])[1][b"cookie"] == b"sticky=node-2"


def test_a_client_told_not_to_follow_redirects_does_not() -> None:
    moved = respond(b"", status="307 Temporary Redirect", headers="location: /v2\r\n")

    async def main(server: RawServer) -> None:
        client = _client(server.url)
        client.http.follow_redirects = False
        try:
            await client.text_classification("stay")
        finally:
            await client.close()

    with raw_server(moved, respond(LABELS)) as server, pytest.raises(HfHubHTTPError) as caught:
        asyncio.run(main(server))
    assert caught.value.status_code == 307
    assert len(server.requests) == 1
