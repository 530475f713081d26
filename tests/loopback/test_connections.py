"""Streams release their connection; finished streams leave it reusable (real sockets)."""

from __future__ import annotations

import asyncio
import gc

import httpx

from hfinfer import AsyncInferenceClient, InferenceClient

from .conftest import Loopback

MESSAGES = [{"role": "user", "content": "hi"}]


def test_sync_break_out_of_stream_releases_connection(loopback: Loopback) -> None:
    http = httpx.Client(limits=httpx.Limits(max_connections=1))
    client = InferenceClient(
        loopback.url + "/stream/endless", token=False, http_client=http, timeout=5
    )
    for _ in range(3):  # with a pool of one, a leaked connection would block the next call
        for i, _chunk in enumerate(client.text_generation("x", stream=True, details=True)):
            if i == 2:
                break
        gc.collect()
    assert loopback.wait_open(0) == 0
    assert client.text_classification("ok", model=loopback.url + "/plain")[0].label == "POSITIVE"
    http.close()


def test_sync_with_block_closes_stream(loopback: Loopback) -> None:
    with InferenceClient(loopback.url + "/stream/endless", token=False) as client:
        stream = client.text_generation("x", stream=True)
        with stream:
            assert next(iter(stream)) is None  # a chat chunk has no TGI `token.text`
        assert stream.response.is_closed
    assert loopback.wait_open(0) == 0


def test_sync_finished_stream_reuses_connection(loopback: Loopback) -> None:
    with InferenceClient(base_url=loopback.url, token=False) as client:
        for _ in range(3):
            chunks = list(client.chat_completion(MESSAGES, stream=True))
            assert [c.choices[0].delta.content for c in chunks] == ["tok", "tok", "tok"]
        assert loopback.connections == 1


async def test_async_break_out_of_stream_releases_connection(loopback: Loopback) -> None:
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1))
    client = AsyncInferenceClient(
        loopback.url + "/stream/endless", token=False, http_client=http, timeout=5
    )
    for _ in range(3):
        stream = await client.text_generation("x", stream=True)
        async for i, _chunk in _enumerate(stream):
            if i == 2:
                break
        await stream.aclose()
    out = await client.text_classification("ok", model=loopback.url + "/plain")
    assert out[0].label == "POSITIVE"
    await http.aclose()
    assert await asyncio.to_thread(loopback.wait_open, 0) == 0


async def test_async_break_without_explicit_close_is_released(loopback: Loopback) -> None:
    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=1))
    client = AsyncInferenceClient(
        loopback.url + "/stream/endless", token=False, http_client=http, timeout=5
    )
    for _ in range(2):
        async for chunk in await client.chat_completion(MESSAGES, stream=True):
            assert chunk.choices[0].delta.content == "tok"
            break
        gc.collect()
        for _ in range(5):  # the event loop finalises abandoned async generators
            await asyncio.sleep(0.01)
    out = await client.text_classification("ok", model=loopback.url + "/plain")
    assert out[0].score == 0.9
    await http.aclose()


async def test_async_finished_stream_reuses_connection(loopback: Loopback) -> None:
    async with AsyncInferenceClient(base_url=loopback.url + "/v1", token=False) as client:
        for _ in range(3):
            stream = await client.chat_completion(MESSAGES, stream=True)
            assert [c.choices[0].delta.content async for c in stream] == ["tok"] * 3
        assert loopback.connections == 1


async def _enumerate(stream):  # type: ignore[no-untyped-def]
    i = 0
    async for item in stream:
        yield i, item
        i += 1


async def test_async_aclose_has_closed_the_socket_when_it_returns(loopback: Loopback) -> None:
    """No further turn of the event loop is needed: the server sees the cancel at once."""
    client = AsyncInferenceClient(loopback.url + "/stream/endless", token=False, timeout=5)
    stream = await client.chat_completion(MESSAGES, stream=True)
    async for _chunk in stream:
        break
    await stream.aclose()
    assert loopback.wait_open(0) == 0  # blocking on purpose: the loop does not run meanwhile
    await client.close()
