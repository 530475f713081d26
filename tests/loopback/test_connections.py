"""Streams release their connection, on every engine (real sockets, server-side counts).

What a finished stream does with its connection depends on the engine, and is pinned here: the
stream stops reading at `[DONE]` and closes the response without draining the rest of the body.
httpx's transports (sync, and async with `engine="httpx"`) then close the connection, since the
body's end was not read; aiohttp returns it to its pool when the body had already ended in the
bytes it received (here: the whole stream arrives in one write). Either way none is left open.
"""

from __future__ import annotations

import asyncio
import gc
import time

import httpx
import pytest

from hfinfer import AsyncInferenceClient, InferenceClient
from hfinfer._engines import Engine

from .conftest import Loopback
from .rawserver import raw_server, sse

MESSAGES = [{"role": "user", "content": "hi"}]
ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1)
"""A pool of one: a connection a stream leaked would block the next call."""

pytestmark = pytest.mark.timeout(30)


# -- breaking out early --------------------------------------------------------------------------


def test_sync_break_out_of_stream_releases_connection(loopback: Loopback) -> None:
    client = InferenceClient(loopback.url + "/stream/endless", token=False, limits=ONE, timeout=5)
    for _ in range(3):
        for i, _chunk in enumerate(client.text_generation("x", stream=True, details=True)):
            if i == 2:
                break
        gc.collect()
        assert loopback.wait_open(0) == 0
    assert client.text_classification("ok", model=loopback.url + "/plain")[0].label == "POSITIVE"
    client.close()
    assert loopback.wait_open(0) == 0


async def test_async_break_out_of_stream_releases_connection(
    loopback: Loopback, engine: Engine
) -> None:
    client = AsyncInferenceClient(
        loopback.url + "/stream/endless", token=False, limits=ONE, timeout=5, engine=engine
    )
    for _ in range(3):
        stream = await client.text_generation("x", stream=True)
        i = 0
        async for _chunk in stream:
            i += 1
            if i == 3:
                break
        await stream.aclose()
        assert loopback.wait_open(0) == 0  # closed by the time aclose() returns
    out = await client.text_classification("ok", model=loopback.url + "/plain")
    assert out[0].label == "POSITIVE"
    await client.close()
    assert await asyncio.to_thread(loopback.wait_open, 0) == 0


async def test_async_break_without_explicit_close_is_released(
    loopback: Loopback, engine: Engine
) -> None:
    client = AsyncInferenceClient(
        loopback.url + "/stream/endless", token=False, limits=ONE, timeout=5, engine=engine
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
    await client.close()
    assert await asyncio.to_thread(loopback.wait_open, 0) == 0


def test_sync_with_block_closes_stream(loopback: Loopback) -> None:
    with InferenceClient(loopback.url + "/stream/endless", token=False) as client:
        stream = client.text_generation("x", stream=True)
        with stream:
            assert next(iter(stream)) is None  # a chat chunk has no TGI `token.text`
        assert stream.response.is_closed
        assert loopback.wait_open(0) == 0
    assert loopback.wait_open(0) == 0


async def test_async_with_block_closes_stream(loopback: Loopback, engine: Engine) -> None:
    async with AsyncInferenceClient(
        loopback.url + "/stream/endless", token=False, engine=engine
    ) as client:
        stream = await client.text_generation("x", stream=True)
        async with stream:
            assert await stream.__anext__() is None
        assert stream.response.is_closed
        assert loopback.wait_open(0) == 0
    assert loopback.wait_open(0) == 0


async def test_async_aclose_has_closed_the_socket_when_it_returns(
    loopback: Loopback, engine: Engine
) -> None:
    """No further turn of the event loop is needed: the server sees the cancel at once."""
    client = AsyncInferenceClient(
        loopback.url + "/stream/endless", token=False, timeout=5, engine=engine
    )
    stream = await client.chat_completion(MESSAGES, stream=True)
    async for _chunk in stream:
        break
    await stream.aclose()
    assert loopback.wait_open(0) == 0  # blocking on purpose: the loop does not run meanwhile
    await client.close()


# -- streams that end ----------------------------------------------------------------------------

REUSED: dict[str, bool] = {"sync": False, "aiohttp": True, "httpx-async": False}
"""Whether a finished stream's connection is reused (see the module docstring)."""


def test_sync_finished_stream_releases_its_connection() -> None:
    with raw_server(sse()) as server:
        with InferenceClient(base_url=server.url, token=False) as client:
            for n in range(1, 4):
                chunks = list(client.chat_completion(MESSAGES, stream=True))
                assert [c.choices[0].delta.content for c in chunks] == ["tok", "tok", "tok"]
                # closed as the stream ended, while the client lives on
                assert server.wait_closed_by_client(n) == n
                assert server.wait_open(0) == 0
        assert server.connections == 3
    assert len(server.requests) == 3


async def test_async_finished_stream_releases_its_connection(
    async_flavour: str, engine: Engine
) -> None:
    reused = REUSED[async_flavour]
    with raw_server(sse()) as server:
        async with AsyncInferenceClient(
            base_url=server.url + "/v1", token=False, engine=engine
        ) as client:
            for n in range(1, 4):
                stream = await client.chat_completion(MESSAGES, stream=True)
                assert [c.choices[0].delta.content async for c in stream] == ["tok"] * 3
                assert stream.response.is_closed
                if reused:  # back in the pool, idle: the one connection stays open
                    assert server.wait_open(1) == 1
                    assert server.closed_by_client == 0
                else:
                    assert await asyncio.to_thread(server.wait_closed_by_client, n) == n
                    assert server.wait_open(0) == 0
        assert server.connections == (1 if reused else 3)
        assert await asyncio.to_thread(server.wait_open, 0) == 0
    assert len(server.requests) == 3


def test_sync_stream_whose_body_stays_open_after_done_ends_at_done() -> None:
    """A server that sends `[DONE]` but neither ends the body nor closes: the stream ends at
    `[DONE]` at once (it does not wait for the body's end, nor for the timeout)."""
    with raw_server(sse(end=False)) as server:
        with InferenceClient(base_url=server.url, token=False, timeout=5) as client:
            for n in range(1, 3):
                start = time.monotonic()
                chunks = list(client.chat_completion(MESSAGES, stream=True))
                assert time.monotonic() - start < 2
                assert [c.choices[0].delta.content for c in chunks] == ["tok"] * 3
                assert server.wait_closed_by_client(n) == n  # not reusable: closed
        assert server.connections == 2


async def test_async_stream_whose_body_stays_open_after_done_ends_at_done(
    engine: Engine,
) -> None:
    with raw_server(sse(end=False)) as server:
        async with AsyncInferenceClient(
            base_url=server.url, token=False, timeout=5, engine=engine
        ) as client:
            for n in range(1, 3):
                start = time.monotonic()
                stream = await client.chat_completion(MESSAGES, stream=True)
                assert [c.choices[0].delta.content async for c in stream] == ["tok"] * 3
                assert time.monotonic() - start < 2
                assert await asyncio.to_thread(server.wait_closed_by_client, n) == n
        assert server.connections == 2


def test_finished_streams_on_the_loopback_server_leave_nothing_open(
    loopback: Loopback, flavour: str
) -> None:
    """The loopback server writes `[DONE]` and the body's end separately: whichever the engine
    has seen when the stream ends, at most one connection is open, and none once closed."""
    from tests.faults.calls import Runner

    runner = Runner(flavour, base_url=loopback.url + "/v1", timeout=5)  # type: ignore[arg-type]
    try:
        for _ in range(3):
            outcome = runner.call("chat", "tgi")
            assert outcome.error is None and outcome.chunks == ["tok"] * 3
            assert loopback.open_connections <= 1
    finally:
        runner.close()
    assert loopback.wait_open(0) == 0
