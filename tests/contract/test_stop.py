"""`stop` takes one string or a list (binding `"encode": "list"`): the wire always has a list."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from contract_helpers import FLAVOURS, IE, call, only_request, sent_json

import hfinfer

MESSAGES = [{"role": "user", "content": "Count to 3"}]
CHAT_REPLY = {
    "choices": [
        {"finish_reason": "stop", "index": 0, "logprobs": None,
         "message": {"role": "assistant", "content": "1, 2"}}
    ],
    "created": 1, "id": "x", "model": "tgi", "system_fingerprint": "fp",
    "usage": {"completion_tokens": 4, "prompt_tokens": 3, "total_tokens": 7},
}  # fmt: skip
CHAT_URL = "http://h:8080/v1/chat/completions"
TG_URL = f"{IE}/models/gpt2"
TG_DEFAULTS = {"details": False, "do_sample": False, "return_full_text": False}


@pytest.mark.parametrize(
    ("stop", "wire"),
    [("3", ["3"]), (["3", "\n"], ["3", "\n"]), (("3",), ["3"]), ([], [])],
    ids=["str", "list", "tuple", "empty"],
)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_completion_stop(
    flavour: str, stop: Any, wire: list[str], mock: respx.MockRouter
) -> None:
    route = mock.post(CHAT_URL).mock(return_value=httpx.Response(200, json=CHAT_REPLY))
    out = await call(flavour, "chat_completion", MESSAGES, model="http://h:8080", stop=stop)
    assert sent_json(only_request(route)) == {
        "model": "tgi",
        "messages": MESSAGES,
        "stop": wire,
        "stream": False,
    }
    assert out.choices[0].message.content == "1, 2"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_completions_create_stop_str(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(CHAT_URL).mock(return_value=httpx.Response(200, json=CHAT_REPLY))
    kwargs: dict[str, Any] = {"model": "m", "messages": MESSAGES, "stop": "x"}
    if flavour == "sync":
        with hfinfer.InferenceClient(base_url="http://h:8080/v1", token=False) as client:
            out = client.chat.completions.create(**kwargs)
    else:
        async with hfinfer.AsyncInferenceClient(base_url="http://h:8080/v1", token=False) as ac:
            out = await ac.chat.completions.create(**kwargs)
    request = only_request(route)
    assert sent_json(request) == {
        "model": "m",
        "messages": MESSAGES,
        "stop": ["x"],
        "stream": False,
    }
    assert b'"stop":["x"]' in request.content.replace(b" ", b"")
    # The result is a dict too: it serialises back to what the server sent (plus optional None).
    assert json.loads(json.dumps(out))["choices"][0]["message"]["content"] == "1, 2"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_stop_str(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(TG_URL).mock(return_value=httpx.Response(200, json=[{"generated_text": "a"}]))
    out = await call(flavour, "text_generation", "x", model="gpt2", stop="\n")
    assert sent_json(only_request(route)) == {
        "inputs": "x",
        "parameters": {**TG_DEFAULTS, "stop": ["\n"]},
        "stream": False,
    }
    assert out == "a"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_stop_sequences_str(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(TG_URL).mock(return_value=httpx.Response(200, json=[{"generated_text": "a"}]))
    with pytest.warns(FutureWarning, match="stop_sequences"):
        await call(flavour, "text_generation", "x", model="gpt2", stop_sequences=".")
    assert sent_json(only_request(route))["parameters"]["stop"] == ["."]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_without_stop_sends_the_empty_list(
    flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(TG_URL).mock(return_value=httpx.Response(200, json=[{"generated_text": "a"}]))
    await call(flavour, "text_generation", "x", model="gpt2")
    assert sent_json(only_request(route))["parameters"]["stop"] == []


@pytest.mark.parametrize(
    ("method", "args", "stop", "message"),
    [
        ("chat_completion", (MESSAGES,), 3, "must be a string or a list, got int"),
        ("chat_completion", (MESSAGES,), ["a", 1], "[1] must be a string, got int"),
        ("text_generation", ("x",), {"a": 1}, "must be a string or a list, got dict"),
        ("text_generation", ("x",), [None], "[0] must be a string, got NoneType"),
    ],
)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_bad_stop_is_rejected_before_any_request(
    flavour: str,
    method: str,
    args: tuple[Any, ...],
    stop: Any,
    message: str,
    mock: respx.MockRouter,
) -> None:
    with pytest.raises(hfinfer.InferenceInputError) as info:
        await call(flavour, method, *args, model="http://h:8080", stop=stop)
    assert "stop" in str(info.value)
    assert message in str(info.value)
    assert len(mock.calls) == 0
