"""Chat URL rules, the OpenAI-style alias, and the per-method special cases (sync and async)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx
import pytest
import respx
from contract_helpers import FLAVOURS, IE, IMAGE, call, only_request, sent_json

import hfinfer

MESSAGES = [{"role": "user", "content": "Count to 3"}]
CHAT_REPLY = {
    "choices": [
        {"finish_reason": "stop", "index": 0, "logprobs": None,
         "message": {"role": "assistant", "content": "1, 2, 3"}}
    ],
    "created": 1, "id": "x", "model": "tgi", "system_fingerprint": "fp",
    "usage": {"completion_tokens": 5, "prompt_tokens": 3, "total_tokens": 8},
}  # fmt: skip

# (client kwargs, call model, expected URL, expected body "model")
CHAT_ROUTES = [
    ({"model": "meta-llama/X"}, None, f"{IE}/models/meta-llama/X/v1/chat/completions",
     "meta-llama/X"),
    ({}, "meta-llama/X", f"{IE}/models/meta-llama/X/v1/chat/completions", "meta-llama/X"),
    ({"base_url": "http://h:8080"}, None, "http://h:8080/v1/chat/completions", "tgi"),
    ({"base_url": "http://h:8080/v1"}, None, "http://h:8080/v1/chat/completions", "tgi"),
    ({"base_url": "http://h:8080/v1/"}, None, "http://h:8080/v1/chat/completions", "tgi"),
    ({"base_url": "http://h/v1/chat/completions"}, None, "http://h/v1/chat/completions", "tgi"),
    ({"base_url": "http://h/v1?api-version=1"}, None,
     "http://h/v1/chat/completions?api-version=1", "tgi"),
    ({"model": "http://h:8080/"}, None, "http://h:8080/v1/chat/completions", "tgi"),
    ({}, "http://h:8080", "http://h:8080/v1/chat/completions", "tgi"),
    # the client's server wins; the call's model names the model in the body (OpenAI style)
    ({"base_url": "http://h:8080/v1/"}, "my-org/my-model", "http://h:8080/v1/chat/completions",
     "my-org/my-model"),
]  # fmt: skip


@pytest.mark.parametrize(("client_kwargs", "model", "url", "body_model"), CHAT_ROUTES)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_url_rules(
    client_kwargs: dict[str, Any],
    model: str | None,
    url: str,
    body_model: str,
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    route = mock.post(url__startswith=url.split("?")[0]).mock(
        return_value=httpx.Response(200, json=CHAT_REPLY)
    )
    out = await call(
        flavour, "chat_completion", MESSAGES, model=model, max_tokens=5, client_kwargs=client_kwargs
    )
    request = only_request(route)
    assert request.method == "POST"
    assert str(request.url) == url
    assert sent_json(request) == {
        "model": body_model,
        "messages": MESSAGES,
        "max_tokens": 5,
        "stream": False,
    }
    assert isinstance(out, hfinfer.ChatCompletionOutput)
    assert out.choices[0].message.content == "1, 2, 3"
    assert out.usage.total_tokens == 8


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_completions_create_alias(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post("http://h:8080/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=CHAT_REPLY)
    )
    kwargs: dict[str, Any] = {"model": "m", "messages": MESSAGES, "temperature": 0.0, "seed": 7}
    if flavour == "sync":
        with hfinfer.InferenceClient(base_url="http://h:8080/v1", token=False) as client:
            out = client.chat.completions.create(**kwargs)
    else:
        async with hfinfer.AsyncInferenceClient(base_url="http://h:8080/v1", token=False) as ac:
            out = await ac.chat.completions.create(**kwargs)
    assert sent_json(only_request(route)) == {
        "model": "m",
        "messages": MESSAGES,
        "temperature": 0.0,
        "seed": 7,
        "stream": False,
    }
    assert isinstance(out, hfinfer.ChatCompletionOutput)
    assert out.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_chat_full_parameters_body(flavour: str, mock: respx.MockRouter) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    route = mock.post(f"{IE}/models/m/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=CHAT_REPLY)
    )
    await call(
        flavour, "chat_completion", MESSAGES, model="m", frequency_penalty=0.5,
        logit_bias={"12": 1.0}, logprobs=True, top_logprobs=2, n=1, presence_penalty=-0.5,
        response_format={"type": "json", "value": {"type": "object"}}, tool_choice="auto",
        tool_prompt="Use tools:", tools=tools, top_p=0.9, stream_options={"include_usage": True},
    )  # fmt: skip
    assert sent_json(only_request(route)) == {
        "model": "m",
        "messages": MESSAGES,
        "frequency_penalty": 0.5,
        "logit_bias": {"12": 1.0},
        "logprobs": True,
        "top_logprobs": 2,
        "n": 1,
        "presence_penalty": -0.5,
        "response_format": {"type": "json", "value": {"type": "object"}},
        "tool_choice": "auto",
        "tool_prompt": "Use tools:",
        "tools": tools,
        "top_p": 0.9,
        "stream_options": {"include_usage": True},
        "stream": False,
    }


# -- arguments rejected before any request -------------------------------------------------------

INPUT_ERRORS: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    ("translation", ("Hello",), {"src_lang": "en_XX"}, "tgt_lang"),
    ("translation", ("Hello",), {"tgt_lang": "fr_XX"}, "src_lang"),
    ("zero_shot_image_classification", (IMAGE, ["dog"]), {}, "labels"),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "mentioned"), INPUT_ERRORS)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_invalid_arguments_raise_before_any_request(
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    mentioned: str,
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    route = mock.post(f"{IE}/models/m").mock(return_value=httpx.Response(200, json=[]))
    with pytest.raises(hfinfer.InferenceInputError) as info:
        await call(flavour, method, *args, model="m", **kwargs)
    assert mentioned in str(info.value)
    assert info.value.method == method
    assert not route.called
    assert len(mock.calls) == 0


# -- deprecated arguments -----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_summarization_parameters_is_deprecated(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(f"{IE}/models/m").mock(
        return_value=httpx.Response(200, json=[{"summary_text": "short"}])
    )
    with pytest.warns(FutureWarning, match="parameters"):
        out = await call(
            flavour, "summarization", "A long text.", model="m",
            parameters={"max_length": 10, "min_length": None},
        )  # fmt: skip
    assert sent_json(only_request(route)) == {
        "inputs": "A long text.",
        "parameters": {"max_length": 10},
    }
    assert isinstance(out, hfinfer.SummarizationOutput)
    assert out.summary_text == "short"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_summarization_without_parameters_does_not_warn(
    flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{IE}/models/m").mock(
        return_value=httpx.Response(200, json=[{"summary_text": "short"}])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        await call(flavour, "summarization", "A long text.", model="m")
    assert sent_json(only_request(route)) == {"inputs": "A long text."}


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_summarization_parameters_replace_named_ones(
    flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{IE}/models/m").mock(
        return_value=httpx.Response(200, json=[{"summary_text": "short"}])
    )
    with pytest.warns(FutureWarning):
        await call(
            flavour, "summarization", "A long text.", model="m", parameters={"max_length": 10},
            truncation="only_first",
        )  # fmt: skip
    assert sent_json(only_request(route)) == {
        "inputs": "A long text.",
        "parameters": {"max_length": 10},
    }


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_stop_sequences_is_deprecated(
    flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(f"{IE}/models/gpt2").mock(
        return_value=httpx.Response(200, json=[{"generated_text": "abc"}])
    )
    with pytest.warns(FutureWarning, match="stop_sequences"):
        out = await call(flavour, "text_generation", "x", model="gpt2", stop_sequences=["\n"])
    assert sent_json(only_request(route)) == {
        "inputs": "x",
        "parameters": {"details": False, "do_sample": False, "return_full_text": False,
                       "stop": ["\n"]},
        "stream": False,
    }  # fmt: skip
    assert out == "abc"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_all_parameters_body(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post("http://tgi.test/").mock(
        return_value=httpx.Response(200, json={"generated_text": "ok", "details": None})
    )
    grammar = {"type": "regex", "value": "[0-9]+"}
    out = await call(
        flavour, "text_generation", "p", model="http://tgi.test/", adapter_id="a", best_of=2,
        do_sample=True, frequency_penalty=0.1, grammar=grammar, max_new_tokens=3,
        repetition_penalty=1.2, return_full_text=True, seed=5, stop=["x"], temperature=0.3,
        top_k=4, top_n_tokens=2, top_p=0.8, truncate=100, typical_p=0.5, watermark=True,
    )  # fmt: skip
    assert sent_json(only_request(route)) == {
        "inputs": "p",
        "parameters": {
            "details": False, "adapter_id": "a", "best_of": 2, "do_sample": True,
            "frequency_penalty": 0.1, "grammar": grammar, "max_new_tokens": 3,
            "repetition_penalty": 1.2, "return_full_text": True, "seed": 5, "stop": ["x"],
            "temperature": 0.3, "top_k": 4, "top_n_tokens": 2, "top_p": 0.8, "truncate": 100,
            "typical_p": 0.5, "watermark": True,
        },
        "stream": False,
    }  # fmt: skip
    assert out == "ok"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_decoder_input_details_needs_details(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(f"{IE}/models/gpt2").mock(
        return_value=httpx.Response(200, json=[{"generated_text": "abc"}])
    )
    with pytest.warns(UserWarning):
        await call(flavour, "text_generation", "x", model="gpt2", decoder_input_details=True)
    assert sent_json(only_request(route))["parameters"]["decoder_input_details"] is False


@pytest.mark.parametrize(
    ("method", "args", "body", "message"),
    [
        ("sentence_similarity", ("a", ["b"]), {"scores": [0.5]}, "must be a list, got dict"),
        ("sentence_similarity", ("a", ["b"]), [0.5, "high"], "[1] must be a number, got str"),
        ("tabular_regression", ({"x": ["1"]},), None, "must be a list, got NoneType"),
    ],
)
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_plain_json_results_are_checked_against_the_output_schema(
    flavour: str,
    mock: respx.MockRouter,
    method: str,
    args: tuple[Any, ...],
    body: Any,
    message: str,
) -> None:
    url = "http://127.0.0.1:8080/m"
    mock.post(url).mock(return_value=httpx.Response(200, content=json.dumps(body).encode()))
    with pytest.raises(hfinfer.InferenceDecodeError) as info:
        await call(flavour, method, *args, model=url)
    assert f"{method}(): the response {message}" in str(info.value)
