"""hfinfer's HTTP/1.1 transports (`_pool`, `_apool`) against exact bytes on real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from hfinfer import AsyncInferenceClient, InferenceClient, InferenceConnectionError
from hfinfer._apool import Connection as AsyncConnection
from hfinfer._pool import Connection, HTTPTransport

from .rawserver import CLOSE_AFTER, raw_server, respond

CHUNKED = (
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nx-trailer: t\r\n\r\n"
)
LABELS = b'[{"label":"POSITIVE","score":0.9}]'


# -- framing ------------------------------------------------------------------------------------


def test_content_length_bodies_share_one_connection(client: httpx.Client) -> None:
    with raw_server(respond(b"one"), respond(b"two")) as server:
        assert client.post(server.url, content=b"a").content == b"one"
        assert client.get(server.url + "/x?q=1").content == b"two"
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST / HTTP/1.1\r\n")
    assert server.requests[0].endswith(b"\r\n\r\na")
    assert server.requests[1].startswith(b"GET /x?q=1 HTTP/1.1\r\n")


def test_chunked_body_with_extensions_and_trailers(client: httpx.Client) -> None:
    with raw_server(lambda r: CHUNKED) as server:
        assert client.get(server.url).content == b"hello world"
        assert client.get(server.url).content == b"hello world"
    assert server.connections == 1


def test_body_until_close(client: httpx.Client) -> None:
    reply = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it"
    with raw_server(lambda r: reply + CLOSE_AFTER) as server:
        assert client.get(server.url).content == b"all of it" + CLOSE_AFTER
        assert client.get(server.url).content == b"all of it" + CLOSE_AFTER
    assert server.connections == 2


def test_interim_100_continue_is_skipped(client: httpx.Client) -> None:
    reply = b"HTTP/1.1 100 Continue\r\n\r\n" + respond(b"done")(b"")
    with raw_server(lambda r: reply) as server:
        response = client.post(server.url, content=b"x")
    assert (response.status_code, response.content) == (200, b"done")


def test_no_body_for_204_and_head(client: httpx.Client) -> None:
    with raw_server(
        lambda r: b"HTTP/1.1 204 No Content\r\n\r\n",
        lambda r: b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
        respond(b"after"),
    ) as server:
        assert client.delete(server.url).content == b""
        assert client.head(server.url).content == b""
        assert client.get(server.url).content == b"after"
    assert server.connections == 1


def test_streamed_request_body_is_sent_chunked(client: httpx.Client) -> None:
    with raw_server(respond(b"ok")) as server:
        assert client.post(server.url, content=iter([b"ab", b"", b"cd"])).content == b"ok"
    assert b"transfer-encoding: chunked" in server.requests[0].lower()
    assert server.requests[0].endswith(b"\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")


# -- connections that go away -------------------------------------------------------------------


def test_idle_connection_closed_by_server_is_replaced(client: httpx.Client) -> None:
    dropped = respond(b"first", headers=CLOSE_AFTER.decode() + "\r\n")
    with raw_server(dropped, respond(b"second")) as server:
        assert client.get(server.url).content == b"first"
        time.sleep(0.05)
        assert client.get(server.url).content == b"second"
    assert server.connections == 2


def test_dead_socket_reused_by_mistake_is_retried_once(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Connection, "usable", lambda self, now: True)  # skip the idle check
    dropped = respond(b"first", headers=CLOSE_AFTER.decode() + "\r\n")
    with raw_server(dropped, respond(b"second")) as server:
        assert client.get(server.url).content == b"first"
        time.sleep(0.05)
        assert client.get(server.url).content == b"second"
    assert server.connections == 2
    assert len(server.requests) == 2  # the resend went to the new connection only


@pytest.mark.parametrize(
    "reply",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_protocol_violations_raise_remote_protocol_error(
    client: httpx.Client, reply: bytes
) -> None:
    closing = reply + CLOSE_AFTER + b"\r\n\r\n"
    with raw_server(lambda r: closing) as server, pytest.raises(httpx.RemoteProtocolError):
        client.get(server.url).read()


def test_truncated_body_raises_and_drops_the_connection(client: httpx.Client) -> None:
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nx-close-after: 1\r\n\r\nshort"
    with raw_server(lambda r: reply, respond(b"fine")) as server:
        with pytest.raises(httpx.RemoteProtocolError, match="95 of 100 body bytes unread"):
            client.get(server.url)
        assert client.get(server.url).content == b"fine"


def test_read_timeout(client: httpx.Client) -> None:
    def stall(request: bytes) -> bytes:
        time.sleep(1.0)
        return respond(b"late")(request)

    with raw_server(stall) as server, pytest.raises(httpx.ReadTimeout):
        client.get(server.url, timeout=0.2)


def test_closed_transport_refuses_requests() -> None:
    transport = HTTPTransport()
    transport.close()
    with pytest.raises(RuntimeError, match="closed"):
        transport.handle_request(httpx.Request("GET", "http://127.0.0.1:9/"))


# -- through the inference clients ---------------------------------------------------------------


def test_garbage_server_gives_a_typed_connection_error() -> None:
    with raw_server(lambda r: b"\x00\xffnot http at all\r\n\r\n" + CLOSE_AFTER) as server:
        client = InferenceClient(server.url, token=False, max_retries=1)
        with pytest.raises(InferenceConnectionError, match="after 2 attempt"):
            client.text_classification("hi")
    assert len(server.requests) == 2


def test_token_is_dropped_on_a_redirect_to_another_host() -> None:
    with raw_server(respond(LABELS)) as target:
        elsewhere = target.url.replace("127.0.0.1", "localhost") + "/moved"
        moved = respond(b"", status="307 Temporary Redirect", headers=f"location: {elsewhere}\r\n")
        with raw_server(moved) as origin:
            client = InferenceClient(origin.url, token="hf_secret_token")
            assert client.text_classification("hi")[0].label == "POSITIVE"
    assert b"authorization: bearer hf_secret_token" in origin.requests[0].lower()
    assert b"POST /moved HTTP/1.1" in target.requests[0]
    assert b"authorization" not in target.requests[0].lower()
    assert target.requests[0].endswith(b'{"inputs":"hi"}')


def test_token_is_kept_on_a_redirect_within_the_origin() -> None:
    with raw_server(
        respond(b"", status="308 Permanent Redirect", headers="location: /v2\r\n"),
        respond(LABELS),
    ) as server:
        client = InferenceClient(server.url, token="hf_secret_token")
        assert client.text_classification("hi")[0].score == 0.9
    assert b"POST /v2 HTTP/1.1" in server.requests[1]
    assert b"authorization: bearer hf_secret_token" in server.requests[1].lower()


def test_cookies_given_and_set_by_the_server_are_sent() -> None:
    with raw_server(
        respond(LABELS, headers="set-cookie: lb=node-7; Path=/\r\n"), respond(LABELS)
    ) as server:
        client = InferenceClient(server.url, token=False, cookies={"session": "s1"})
        client.text_classification("a")
        client.text_classification("b")
    assert b"cookie: session=s1\r\n" in server.requests[0].lower()
    assert b"cookie: session=s1; lb=node-7" in server.requests[1].lower()


async def test_async_cookies_given_and_set_by_the_server_are_sent() -> None:
    with raw_server(
        respond(LABELS, headers="set-cookie: lb=node-7; Path=/\r\n"), respond(LABELS)
    ) as server:
        async with AsyncInferenceClient(server.url, token=False, cookies={"s": "1"}) as client:
            await client.text_classification("a")
            await client.text_classification("b")
    assert b"cookie: s=1; lb=node-7" in server.requests[1].lower()


# -- async ---------------------------------------------------------------------------------------


async def test_async_framing_and_reuse(aclient: httpx.AsyncClient) -> None:
    with raw_server(respond(b"one"), lambda r: CHUNKED, respond(b"three")) as server:
        assert (await aclient.post(server.url, content=b"a")).content == b"one"
        assert (await aclient.get(server.url)).content == b"hello world"
        assert (await aclient.get(server.url)).content == b"three"
    assert server.connections == 1


async def test_async_streamed_request_body(aclient: httpx.AsyncClient) -> None:
    async def body() -> AsyncIterator[bytes]:
        yield b"ab"
        yield b"cd"

    with raw_server(respond(b"ok")) as server:
        assert (await aclient.post(server.url, content=body())).content == b"ok"
    assert server.requests[0].endswith(b"\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")


async def test_async_idle_connection_closed_by_server_is_replaced(
    aclient: httpx.AsyncClient,
) -> None:
    dropped = respond(b"first", headers=CLOSE_AFTER.decode() + "\r\n")
    with raw_server(dropped, respond(b"second")) as server:
        assert (await aclient.get(server.url)).content == b"first"
        await asyncio.sleep(0.05)
        assert (await aclient.get(server.url)).content == b"second"
    assert server.connections == 2


async def test_async_dead_socket_reused_by_mistake_is_retried_once(
    aclient: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AsyncConnection, "usable", lambda self, now: True)
    dropped = respond(b"first", headers=CLOSE_AFTER.decode() + "\r\n")
    with raw_server(dropped, respond(b"second")) as server:
        assert (await aclient.get(server.url)).content == b"first"
        await asyncio.sleep(0.05)
        assert (await aclient.get(server.url)).content == b"second"
    assert len(server.requests) == 2


async def test_async_protocol_violation_and_truncation(aclient: httpx.AsyncClient) -> None:
    truncated = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\nx-close-after: 1\r\n\r\nshort"
    with raw_server(lambda r: b"HTTP/1.1 20 OK\r\n\r\n", lambda r: truncated) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            await aclient.get(server.url)
        with pytest.raises(httpx.RemoteProtocolError, match="95 of 100"):
            await aclient.get(server.url)


async def test_async_read_timeout(aclient: httpx.AsyncClient) -> None:
    def stall(request: bytes) -> bytes:
        time.sleep(1.0)
        return respond(b"late")(request)

    with raw_server(stall) as server, pytest.raises(httpx.ReadTimeout):
        await aclient.get(server.url, timeout=0.2)


async def test_async_redirect_drops_token_on_another_host() -> None:
    with raw_server(respond(LABELS)) as target:
        elsewhere = target.url.replace("127.0.0.1", "localhost") + "/moved"
        moved = respond(b"", status="307 Temporary Redirect", headers=f"location: {elsewhere}\r\n")
        with raw_server(moved) as origin:
            async with AsyncInferenceClient(origin.url, token="hf_secret_token") as client:
                assert (await client.text_classification("hi"))[0].label == "POSITIVE"
    assert b"authorization" not in target.requests[0].lower()


def test_async_client_outlives_its_event_loop() -> None:
    """Idle connections of a finished `asyncio.run` are dropped, not reused on the next loop."""
    with raw_server(respond(LABELS)) as server:
        client = AsyncInferenceClient(server.url, token=False)
        for _ in range(2):
            labels = asyncio.run(client.text_classification("hi"))
            assert labels[0].label == "POSITIVE"
    assert server.connections == 2


@pytest.mark.parametrize("form", ["url", "dict"])
def test_proxies_route_requests_through_the_proxy(form: str) -> None:
    with raw_server(respond(LABELS)) as proxy:
        proxies = proxy.url if form == "url" else {"http": proxy.url}
        client = InferenceClient("http://inference.invalid/m", token=False, proxies=proxies)
        assert client.text_classification("hi")[0].label == "POSITIVE"
    assert proxy.requests[0].startswith(b"POST http://inference.invalid/m HTTP/1.1\r\n")


async def test_async_proxies_route_requests_through_the_proxy() -> None:
    with raw_server(respond(LABELS)) as proxy:
        async with AsyncInferenceClient(
            "http://inference.invalid/m", token=False, proxies={"http://": proxy.url}
        ) as client:
            assert (await client.text_classification("hi"))[0].score == 0.9
    assert proxy.requests[0].startswith(b"POST http://inference.invalid/m HTTP/1.1\r\n")
