"""Streaming contract: SSE bodies split at awkward places give the same chunks, sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx
from contract_helpers import FLAVOURS, IE, collect, only_request, sent_json, split_at, sse_response

import hfinfer

MODEL = "gpt2"
URL = f"{IE}/models/{MODEL}"
CHAT_MODEL = "meta-llama/Meta-Llama-3-8B-Instruct"
CHAT_URL = f"{IE}/models/{CHAT_MODEL}/v1/chat/completions"
PROMPT = "The huggingface_hub library is "
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
TG_DEFAULTS = {"details": False, "do_sample": False, "return_full_text": False, "stop": []}

# Tokens of the specification's streaming example, plus multibyte ones to split mid-character.
TOKENS = [
    (1425, "100", -1.0175781),
    (16, "%", -0.0463562),
    (1314, " open", -1.3359375),
    (3178, " source", -0.28100586),
    (9999, " é🤗", -0.5),
    (25, ".", -0.5703125),
]
GENERATED = "100% open source é🤗."


def tg_event(i: int) -> dict[str, Any]:
    tid, text, logprob = TOKENS[i]
    last = i == len(TOKENS) - 1
    return {
        "index": i + 1,
        "token": {"id": tid, "text": text, "logprob": logprob, "special": False},
        "generated_text": GENERATED if last else None,
        "details": {"finish_reason": "length", "generated_tokens": 6, "seed": None}
        if last
        else None,
    }


def chat_event(i: int) -> dict[str, Any]:
    return {
        "choices": [
            {
                "delta": {"content": TOKENS[i][1], "role": "assistant"},
                "index": 0,
                "finish_reason": "length" if i == len(TOKENS) - 1 else None,
                "logprobs": None,
            }
        ],
        "created": 1710498504,
        "id": "",
        "model": CHAT_MODEL,
        "object": "chat.completion.chunk",
        "system_fingerprint": "2.0.4-sha-f426a33",
    }


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    return value


def data_line(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode("utf-8")


def body_plain(events: list[dict[str, Any]]) -> bytes:
    return b"".join(data_line(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def variants(events: list[dict[str, Any]]) -> dict[str, list[bytes]]:
    """The same events, framed and split in ways a real server or proxy may produce."""
    plain = body_plain(events)
    multibyte = plain.index("🤗".encode()) + 2  # inside the 4-byte emoji
    e_acute = plain.index("é".encode()) + 1  # inside the 2-byte é
    crlf = plain.replace(b"\n", b"\r\n")
    cr_positions = [i + 1 for i in range(len(crlf)) if crlf[i : i + 1] == b"\r"]
    commented = (
        b": ping\n\n"
        + b"".join(
            b"event: message\nid: " + str(i).encode() + b"\n" + data_line(e) + b"\n: keep-alive\n\n"
            for i, e in enumerate(events)
        )
        + b"retry: 1000\n\ndata:[DONE]\n\n"
    )
    multiline = b"".join(
        b"data: " + json.dumps(e, ensure_ascii=False, indent=1).encode().replace(b"\n", b"\ndata: ")
        + b"\n\n"
        for e in events
    ) + b"data: [DONE]\n\n"  # fmt: skip
    no_done = b"".join(data_line(e) + b"\n\n" for e in events[:-1]) + data_line(events[-1])
    return {
        "one-piece": [plain],
        "byte-by-byte": [plain[i : i + 1] for i in range(len(plain))],
        "mid-line": split_at(plain, 3, 7, 40, 41, 100, len(plain) - 5),
        "mid-utf8": split_at(plain, e_acute, multibyte, multibyte + 1),
        "crlf-split-between-cr-and-lf": split_at(crlf, *cr_positions),
        "done-without-space-and-comments": split_at(commented, 5, 9, 60),
        "multi-line-data": split_at(multiline, 11, 200),
        "no-done-no-final-blank-line": split_at(no_done, 17),
    }


TG_EVENTS = [tg_event(i) for i in range(len(TOKENS))]
CHAT_EVENTS = [chat_event(i) for i in range(len(TOKENS))]
TG_SPLITS = variants(TG_EVENTS)
CHAT_SPLITS = variants(CHAT_EVENTS)


@pytest.mark.parametrize("split", list(TG_SPLITS))
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_stream_tokens(
    split: str, flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(URL).mock(side_effect=sse_response(TG_SPLITS[split], flavour))
    tokens = await collect(flavour, "text_generation", PROMPT, model=MODEL, stream=True,
                           max_new_tokens=12)  # fmt: skip
    assert tokens == [t[1] for t in TOKENS]
    assert all(type(t) is str for t in tokens)
    request = only_request(route)
    assert request.method == "POST"
    assert str(request.url) == URL
    assert sent_json(request) == {
        "inputs": PROMPT,
        "parameters": {**TG_DEFAULTS, "max_new_tokens": 12},
        "stream": True,
    }


@pytest.mark.parametrize("split", list(TG_SPLITS))
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_stream_details(
    split: str, flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(URL).mock(side_effect=sse_response(TG_SPLITS[split], flavour))
    chunks = await collect(flavour, "text_generation", PROMPT, model=MODEL, stream=True,
                           details=True)  # fmt: skip
    assert len(chunks) == len(TOKENS)
    assert all(isinstance(c, hfinfer.TextGenerationStreamOutput) for c in chunks)
    assert [(c.token.id, c.token.text, c.token.logprob, c.token.special) for c in chunks] == [
        (tid, text, logprob, False) for tid, text, logprob in TOKENS
    ]
    assert [c.index for c in chunks] == list(range(1, len(TOKENS) + 1))
    assert all(c.generated_text is None and c.details is None for c in chunks[:-1])
    assert chunks[-1].generated_text == GENERATED
    assert chunks[-1].details.finish_reason == "length"
    assert chunks[-1].details.generated_tokens == 6
    assert [c.to_dict(exclude_none=True) for c in chunks] == [without_none(e) for e in TG_EVENTS]
    assert sent_json(only_request(route)) == {
        "inputs": PROMPT,
        "parameters": {**TG_DEFAULTS, "details": True},
        "stream": True,
    }


@pytest.mark.parametrize("split", list(CHAT_SPLITS))
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_stream(split: str, flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(CHAT_URL).mock(side_effect=sse_response(CHAT_SPLITS[split], flavour))
    chunks = await collect(flavour, "chat_completion", MESSAGES, model=CHAT_MODEL, stream=True,
                           max_tokens=10)  # fmt: skip
    assert len(chunks) == len(TOKENS)
    assert all(isinstance(c, hfinfer.ChatCompletionStreamOutput) for c in chunks)
    assert "".join(c.choices[0].delta.content for c in chunks) == GENERATED
    assert all(c.choices[0].delta.role == "assistant" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks][-2:] == [None, "length"]
    assert all(c.created == 1710498504 and c.model == CHAT_MODEL for c in chunks)
    request = only_request(route)
    assert str(request.url) == CHAT_URL
    assert sent_json(request) == {
        "model": CHAT_MODEL,
        "messages": MESSAGES,
        "max_tokens": 10,
        "stream": True,
    }


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_sync_and_async_give_identical_chunks(flavour: str, mock: respx.MockRouter) -> None:
    reference = [tg_event(i)["token"]["text"] for i in range(len(TOKENS))]
    for split, pieces in TG_SPLITS.items():
        mock.routes.clear()
        mock.post(URL).mock(side_effect=sse_response(pieces, flavour))
        tokens = await collect(flavour, "text_generation", PROMPT, model=MODEL, stream=True)
        assert tokens == reference, split


# -- error events inside a 200 stream ------------------------------------------------------------

ERRORS = [
    ("validation", hfinfer.ValidationError,
     "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096"),
    ("overloaded", hfinfer.OverloadedError, "Model is overloaded"),
    ("generation", hfinfer.GenerationError, "CUDA out of memory"),
    ("incomplete_generation", hfinfer.IncompleteGenerationError, "Incomplete generation"),
    ("something_new", hfinfer.UnknownError, "A new kind of error"),
]  # fmt: skip


@pytest.mark.parametrize(("error_type", "cls", "message"), ERRORS)
@pytest.mark.parametrize("method", ["text_generation", "chat_completion"])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_stream_error_event_raises_typed_error(
    error_type: str,
    cls: type[Exception],
    message: str,
    method: str,
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    first = TG_EVENTS[0] if method == "text_generation" else CHAT_EVENTS[0]
    body = (
        data_line(first)
        + b"\n\n"
        + data_line({"error": message, "error_type": error_type})
        + b"\n\n"
        + body_plain(TG_EVENTS[1:] if method == "text_generation" else CHAT_EVENTS[1:])
    )
    url = URL if method == "text_generation" else CHAT_URL
    model = MODEL if method == "text_generation" else CHAT_MODEL
    prompt: Any = PROMPT if method == "text_generation" else MESSAGES
    mock.post(url).mock(
        side_effect=sse_response(split_at(body, 30, len(data_line(first)) + 9), flavour)
    )
    received: list[Any] = []
    with pytest.raises(cls) as info:
        if flavour == "sync":
            with hfinfer.InferenceClient(token=False, max_retries=0) as client:
                for item in getattr(client, method)(prompt, model=model, stream=True):
                    received.append(item)
        else:
            async with hfinfer.AsyncInferenceClient(token=False, max_retries=0) as aclient:
                async for item in await getattr(aclient, method)(prompt, model=model, stream=True):
                    received.append(item)
    assert len(received) == 1  # the chunk before the error event was delivered
    assert isinstance(info.value, hfinfer.TextGenerationError)
    assert message in str(info.value)
    assert type(info.value) is cls
