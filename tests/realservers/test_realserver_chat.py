"""OpenAI chat completions against llama.cpp's llama-server (tiny random Llama), sync and async.

The model's words are gibberish but deterministic at temperature 0, so the tests compare the
server's answers with each other (plain vs stream, one call vs the next) rather than with
fixed strings.
"""

from __future__ import annotations

import gc
import time
from typing import TypedDict

import pytest
from rs_util import TINY_LLAMA, USER_HELLO
from servers import RunningServer

from hfinfer import (
    AsyncInferenceClient,
    ChatCompletionOutput,
    ChatCompletionStreamOutput,
    InferenceClient,
)

pytestmark = pytest.mark.realserver


# Greedy and short: "yes rausb! w yo" for "hello"; stays clear of the byte-fallback tokens the
# random model emits later (partial UTF-8 sequences that a stream may split differently).
class Sampling(TypedDict):
    temperature: float
    seed: int
    max_tokens: int


def greedy(max_tokens: int = 6) -> Sampling:
    return {"temperature": 0.0, "seed": 42, "max_tokens": max_tokens}


GREEDY = greedy()


def _content(out: ChatCompletionOutput) -> str:
    content = out.choices[0].message.content
    assert isinstance(content, str)
    return content


def _check_plain(out: ChatCompletionOutput, max_tokens: int) -> str:
    assert out.object == "chat.completion"
    assert len(out.choices) == 1
    choice = out.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.finish_reason in ("length", "stop")
    assert out.usage is not None
    assert 0 < out.usage.completion_tokens <= max_tokens
    assert out.usage.prompt_tokens > 0
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens
    content = _content(out)
    assert content
    return content


def _join_stream(chunks: list[ChatCompletionStreamOutput]) -> str:
    assert chunks, "no chunk"
    for chunk in chunks:
        assert chunk.object == "chat.completion.chunk"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] in ("length", "stop")
    assert all(f is None for f in finishes[:-1])
    return text


# -- plain, stream, and the two agree ---------------------------------------------------------


def test_chat_plain_and_stream_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient() as client:
        out = client.chat_completion(USER_HELLO, model=llama_chat_server.url, **GREEDY)
        content = _check_plain(out, GREEDY["max_tokens"])
        chunks = list(
            client.chat_completion(USER_HELLO, model=llama_chat_server.url, stream=True, **GREEDY)
        )
    assert _join_stream(chunks) == content
    assert chunks[0].choices[0].delta.role == "assistant"


async def test_chat_plain_and_stream_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient() as client:
        out = await client.chat_completion(USER_HELLO, model=llama_chat_server.url, **GREEDY)
        content = _check_plain(out, GREEDY["max_tokens"])
        stream = await client.chat_completion(
            USER_HELLO, model=llama_chat_server.url, stream=True, **GREEDY
        )
        chunks = [chunk async for chunk in stream]
    assert _join_stream(chunks) == content
    assert chunks[0].choices[0].delta.role == "assistant"


def test_chat_stream_with_usage_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient(model=llama_chat_server.url) as client:
        chunks = list(
            client.chat_completion(
                USER_HELLO, stream=True, stream_options={"include_usage": True}, **GREEDY
            )
        )
    # llama-server sends the usage in one extra chunk with no choices, just before [DONE]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens <= GREEDY["max_tokens"]
    _join_stream(chunks)


async def test_chat_stream_with_usage_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient(model=llama_chat_server.url) as client:
        stream = await client.chat_completion(
            USER_HELLO, stream=True, stream_options={"include_usage": True}, **GREEDY
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    _join_stream(chunks)


# -- leaving a stream early ------------------------------------------------------------------


def test_chat_stream_early_break_then_reuse_sync(llama_chat_server: RunningServer) -> None:
    long = greedy(64)
    with InferenceClient(model=llama_chat_server.url, timeout=30) as client:
        for _ in range(3):
            for chunk in client.chat_completion(USER_HELLO, stream=True, **long):
                if chunk.choices and chunk.choices[0].delta.content:
                    break
        out = client.chat_completion(USER_HELLO, **GREEDY)
    _check_plain(out, GREEDY["max_tokens"])


async def test_chat_stream_early_break_then_reuse_async(llama_chat_server: RunningServer) -> None:
    long = greedy(64)
    async with AsyncInferenceClient(model=llama_chat_server.url, timeout=30) as client:
        for _ in range(3):
            async for chunk in await client.chat_completion(USER_HELLO, stream=True, **long):
                if chunk.choices and chunk.choices[0].delta.content:
                    break
        out = await client.chat_completion(USER_HELLO, **GREEDY)
    _check_plain(out, GREEDY["max_tokens"])


# -- a stream left early must free the server's slot -----------------------------------------------
#
# llama-server cancels a generation as soon as its client's connection closes, and logs
# "cancel task". The chat server has one slot and the tiny model needs seconds for 1000
# tokens, so a cancel in the log shows the client really closed the connection on its own.

CANCEL_LINE = "cancel task"
LONG = 1000


def _wait_for_cancel(server: RunningServer, before: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _cancels(server) > before:
            return True
        time.sleep(0.05)
    return False


def _cancels(server: RunningServer) -> int:
    return server.log_path.read_text(errors="replace").count(CANCEL_LINE)


def test_chat_stream_break_releases_connection_sync(llama_chat_server: RunningServer) -> None:
    """Breaking out of ``for chunk in stream`` closes the response at once (CPython refcounts),
    as huggingface_hub's generator streams do; no reliance on the cyclic garbage collector."""
    before = _cancels(llama_chat_server)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with InferenceClient(model=llama_chat_server.url) as client:
            for chunk in client.chat_completion(USER_HELLO, stream=True, **greedy(LONG)):
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            assert _wait_for_cancel(llama_chat_server, before), (
                "the server went on generating: the stream's connection was not closed on break"
            )
    finally:
        if gc_was_enabled:
            gc.enable()


def test_chat_stream_close_releases_connection_sync(llama_chat_server: RunningServer) -> None:
    before = _cancels(llama_chat_server)
    with InferenceClient(model=llama_chat_server.url) as client:
        stream = client.chat_completion(USER_HELLO, stream=True, **greedy(LONG))
        first = next(iter(stream))
        assert first.choices
        stream.close()
        assert _wait_for_cancel(llama_chat_server, before)
        _check_plain(client.chat_completion(USER_HELLO, **GREEDY), GREEDY["max_tokens"])


async def test_chat_stream_aclose_releases_connection_async(
    llama_chat_server: RunningServer,
) -> None:
    before = _cancels(llama_chat_server)
    async with AsyncInferenceClient(model=llama_chat_server.url) as client:
        stream = await client.chat_completion(USER_HELLO, stream=True, **greedy(LONG))
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                break
        await stream.aclose()
        assert _wait_for_cancel(llama_chat_server, before)
        out = await client.chat_completion(USER_HELLO, **GREEDY)
    _check_plain(out, GREEDY["max_tokens"])


# -- determinism, max_tokens, stop -------------------------------------------------------------


def test_chat_deterministic_and_max_tokens_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient(model=llama_chat_server.url) as client:
        first = _content(client.chat_completion(USER_HELLO, **GREEDY))
        second = _content(client.chat_completion(USER_HELLO, **GREEDY))
        short = client.chat_completion(USER_HELLO, **greedy(2))
    assert first == second
    assert short.usage is not None
    assert short.usage.completion_tokens <= 2
    assert short.choices[0].finish_reason == "length"
    assert first.startswith(_content(short))


async def test_chat_deterministic_and_max_tokens_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient(model=llama_chat_server.url) as client:
        first = _content(await client.chat_completion(USER_HELLO, **GREEDY))
        second = _content(await client.chat_completion(USER_HELLO, **GREEDY))
        short = await client.chat_completion(USER_HELLO, **greedy(2))
    assert first == second
    assert short.usage is not None
    assert short.usage.completion_tokens <= 2
    assert short.choices[0].finish_reason == "length"
    assert first.startswith(_content(short))


def _stop_word(full: str) -> tuple[str, str]:
    """A stop string from the middle of ``full`` and the text the server should return."""
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    assert stop.strip(), full
    return stop, full[: full.index(stop)]


def test_chat_stop_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient(model=llama_chat_server.url) as client:
        full = _content(client.chat_completion(USER_HELLO, **GREEDY))
        stop, expected = _stop_word(full)
        out = client.chat_completion(USER_HELLO, stop=[stop], **GREEDY)
    assert out.choices[0].finish_reason == "stop"
    assert _content(out) == expected


async def test_chat_stop_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient(model=llama_chat_server.url) as client:
        full = _content(await client.chat_completion(USER_HELLO, **GREEDY))
        stop, expected = _stop_word(full)
        out = await client.chat_completion(USER_HELLO, stop=[stop], **GREEDY)
    assert out.choices[0].finish_reason == "stop"
    assert _content(out) == expected


# -- logprobs -----------------------------------------------------------------------------------


def _check_logprobs(out: ChatCompletionOutput, top: int) -> None:
    logprobs = out.choices[0].logprobs
    assert logprobs is not None
    content = logprobs.content
    assert content
    assert out.usage is not None
    assert len(content) == out.usage.completion_tokens
    assert "".join(item.token for item in content) == _content(out)
    for item in content:
        assert item.logprob <= 0.0
        tops = item.top_logprobs
        assert tops is not None
        assert len(tops) == top
        # greedy: the chosen token is the most likely one
        assert tops[0].token == item.token
        assert tops[0].logprob >= tops[-1].logprob


def test_chat_logprobs_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient(model=llama_chat_server.url) as client:
        out = client.chat_completion(USER_HELLO, logprobs=True, top_logprobs=2, **GREEDY)
    _check_logprobs(out, 2)


async def test_chat_logprobs_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient(model=llama_chat_server.url) as client:
        out = await client.chat_completion(USER_HELLO, logprobs=True, top_logprobs=3, **GREEDY)
    _check_logprobs(out, 3)


# -- the ways to name the server -----------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_chat_base_url_sync(llama_chat_server: RunningServer, suffix: str) -> None:
    with InferenceClient(base_url=llama_chat_server.url + suffix) as client:
        _check_plain(client.chat_completion(USER_HELLO, **GREEDY), GREEDY["max_tokens"])


@pytest.mark.parametrize("suffix", ["", "/v1"])
async def test_chat_base_url_async(llama_chat_server: RunningServer, suffix: str) -> None:
    async with AsyncInferenceClient(base_url=llama_chat_server.url + suffix) as client:
        out = await client.chat_completion(USER_HELLO, **GREEDY)
    _check_plain(out, GREEDY["max_tokens"])


def test_chat_full_route_as_model_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient() as client:
        out = client.chat_completion(
            USER_HELLO, model=llama_chat_server.url + "/v1/chat/completions", **GREEDY
        )
    _check_plain(out, GREEDY["max_tokens"])


def test_chat_completions_create_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient(base_url=llama_chat_server.url + "/v1") as client:
        out = client.chat.completions.create(model=TINY_LLAMA, messages=USER_HELLO, **GREEDY)
        chunks = list(
            client.chat.completions.create(
                model=TINY_LLAMA, messages=USER_HELLO, stream=True, **GREEDY
            )
        )
    assert _join_stream(chunks) == _check_plain(out, GREEDY["max_tokens"])
    assert out.model == TINY_LLAMA


async def test_chat_completions_create_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient(base_url=llama_chat_server.url + "/v1") as client:
        out = await client.chat.completions.create(model=TINY_LLAMA, messages=USER_HELLO, **GREEDY)
        stream = await client.chat.completions.create(
            model=TINY_LLAMA, messages=USER_HELLO, stream=True, **GREEDY
        )
        chunks = [chunk async for chunk in stream]
    assert _join_stream(chunks) == _check_plain(out, GREEDY["max_tokens"])
