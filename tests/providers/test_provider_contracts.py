"""Contract of every (third-party provider, task) pair of schemas/providers/, sync and async, with
a Hugging Face token (the router) and with a provider key (the provider's own URL): the exact
Hub lookup, method, URL, auth and provider headers, JSON body, and the typed result.

The expectations are written from huggingface_hub 2.4.0's wire format (the fact sheet, §4.1–4.3),
not read from the generated table, so a wrong data file fails here.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
import respx

import hfinfer
from hfinfer import InferenceProviderError

FLAVOURS = ("sync", "async")
KEYS = {"hf": "hf_router_token", "provider": "sk-provider-key"}
ROUTER = "https://router.huggingface.co"
HUB = "https://huggingface.co"
MODEL = "org/hf-model"
PROVIDER_ID = "provider/model-id"

# provider → (direct base URL, chat route, extra headers) — fact sheet §2 and §4.1
CHAT: dict[str, tuple[str, str, dict[str, str]]] = {
    "baseten": ("https://inference.baseten.co", "/v1/chat/completions", {}),
    "cerebras": ("https://api.cerebras.ai", "/v1/chat/completions", {}),
    "cohere": ("https://api.cohere.com", "/compatibility/v1/chat/completions", {}),
    "deepinfra": ("https://api.deepinfra.com", "/v1/openai/chat/completions", {}),
    "featherless-ai": ("https://api.featherless.ai", "/v1/chat/completions", {}),
    "fireworks-ai": ("https://api.fireworks.ai", "/inference/v1/chat/completions", {}),
    "groq": ("https://api.groq.com", "/openai/v1/chat/completions", {}),
    "novita": ("https://api.novita.ai", "/v3/openai/chat/completions", {}),
    "nscale": ("https://inference.api.nscale.com", "/v1/chat/completions", {}),
    "openai": ("https://api.openai.com", "/v1/chat/completions", {}),
    "ovhcloud": ("https://oai.endpoints.kepler.ai.cloud.ovh.net", "/v1/chat/completions", {}),
    "publicai": ("https://api.publicai.co", "/v1/chat/completions", {}),
    "scaleway": ("https://api.scaleway.ai", "/v1/chat/completions", {}),
    "together": ("https://api.together.xyz", "/v1/chat/completions", {}),
    "zai-org": (
        "https://api.z.ai",
        "/api/paas/v4/chat/completions",
        {"accept-language": "en-US,en", "x-source-channel": "hugging_face"},
    ),
}
# provider → (route, name max_new_tokens is sent as) — §4.2
COMPLETIONS = {
    "together": ("/v1/completions", "max_new_tokens"),
    "novita": ("/v3/openai/completions", "max_new_tokens"),
    "featherless-ai": ("/v1/completions", "max_tokens"),
    "deepinfra": ("/v1/openai/completions", "max_tokens"),
}
# provider → (route, model first in the body) — §4.3
EMBEDDINGS = {
    "deepinfra": ("/v1/openai/embeddings", False),
    "scaleway": ("/v1/embeddings", True),
    "together": ("/v1/embeddings", True),
}

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
CHAT_OUTPUT = {
    "choices": [
        {
            "finish_reason": "stop",
            "index": 0,
            "message": {"role": "assistant", "content": "Paris."},
            "logprobs": None,
        }
    ],
    "created": 1719907176,
    "id": "cmpl-1",
    "model": PROVIDER_ID,
    "object": "chat.completion",
    "system_fingerprint": "fp",
    "usage": {"completion_tokens": 2, "prompt_tokens": 9, "total_tokens": 11},
}
COMPLETION_OUTPUT = {
    "id": "cmpl-2",
    "object": "text_completion",
    "choices": [{"index": 0, "text": " a library.", "finish_reason": "length", "seed": 7}],
}
EMBEDDING_OUTPUT = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]}],
}


def base(provider: str, key: str, direct: str) -> str:
    return f"{ROUTER}/{provider}" if key == "hf" else direct


def mapping(provider: str, task: str, status: str = "live") -> dict[str, Any]:
    entry = {"providerId": PROVIDER_ID, "task": task, "status": status}
    return {"_id": "x", "id": MODEL, "inferenceProviderMapping": {provider: entry}}


def mock_mapping(mock: respx.MockRouter, payload: dict[str, Any]) -> respx.Route:
    url = f"{HUB}/api/models/{MODEL}?expand=inferenceProviderMapping"
    return mock.get(url).mock(return_value=httpx.Response(200, json=payload))


async def call(
    flavour: str, method: str, *args: Any, client_kwargs: dict[str, Any], **kwargs: Any
) -> Any:
    options = {"max_retries": 0, **client_kwargs}
    if flavour == "sync":
        with hfinfer.InferenceClient(**options) as client:
            return getattr(client, method)(*args, **kwargs)
    async with hfinfer.AsyncInferenceClient(**options) as client:
        return await getattr(client, method)(*args, **kwargs)


def check_request(
    route: respx.Route, url: str, token: str, headers: dict[str, str] | None = None
) -> Any:
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == url
    assert request.headers["authorization"] == f"Bearer {token}"
    assert request.headers["content-type"] == "application/json"
    for name, value in (headers or {}).items():
        assert request.headers[name] == value
    return json.loads(request.content)


def check_lookup(route: respx.Route, key: str) -> None:
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.method == "GET"
    if key == "hf":  # the client's own key goes to the Hub only when it is a Hugging Face token
        assert request.headers["authorization"] == f"Bearer {KEYS['hf']}"
    else:
        assert "authorization" not in request.headers


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("provider", sorted(CHAT))
async def test_chat_completion(
    provider: str, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    direct, route, headers = CHAT[provider]
    uses_mapping = provider != "openai"  # openai: the model string is the provider's id
    lookup = mock_mapping(mock, mapping(provider, "conversational"))
    if provider == "openai" and key == "hf":
        with pytest.raises(InferenceProviderError, match="not available through Hugging Face"):
            await call(
                flavour, "chat_completion", MESSAGES,
                client_kwargs={"provider": provider, "token": KEYS[key]},
                model=MODEL,
            )  # fmt: skip
        assert not mock.calls  # refused before any request
        return
    url = base(provider, key, direct) + route
    post = mock.post(url).mock(return_value=httpx.Response(200, json=CHAT_OUTPUT))
    out = await call(
        flavour, "chat_completion", MESSAGES,
        client_kwargs={"provider": provider, "token": KEYS[key]},
        model=MODEL, max_tokens=5, temperature=0.5,
    )  # fmt: skip
    body = check_request(post, url, KEYS[key], headers)
    model = PROVIDER_ID if uses_mapping else MODEL
    assert body == {
        "model": model,
        "messages": MESSAGES,
        "stream": False,
        "max_tokens": 5,
        "temperature": 0.5,
    }
    assert next(iter(body)) == "model"  # first, so a router reads it from a short prefix
    if uses_mapping:
        check_lookup(lookup, key)
    else:
        assert lookup.call_count == 0
    assert isinstance(out, hfinfer.ChatCompletionOutput)
    assert out.choices[0].message.content == "Paris."


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("provider", sorted(COMPLETIONS))
async def test_text_generation(
    provider: str, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    route, max_name = COMPLETIONS[provider]
    lookup = mock_mapping(mock, mapping(provider, "text-generation"))
    url = base(provider, key, CHAT[provider][0]) + route
    post = mock.post(url).mock(return_value=httpx.Response(200, json=COMPLETION_OUTPUT))
    out = await call(
        flavour, "text_generation", "The huggingface_hub library is",
        client_kwargs={"model": MODEL, "provider": provider, "token": KEYS[key]},
        max_new_tokens=12, temperature=0.1,
    )  # fmt: skip
    body = check_request(post, url, KEYS[key])
    assert body == {
        "prompt": "The huggingface_hub library is",
        "stream": False,  # the TGI defaults details/do_sample/return_full_text/stop are omitted
        max_name: 12,
        "temperature": 0.1,
        "model": PROVIDER_ID,
    }
    assert list(body)[-1] == "model"
    check_lookup(lookup, key)
    assert out == " a library."


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_generation_sends_tgi_options_the_caller_sets(
    flavour: str, mock: respx.MockRouter
) -> None:
    lookup = mock_mapping(mock, mapping("together", "text-generation"))
    url = base("together", "provider", CHAT["together"][0]) + COMPLETIONS["together"][0]
    post = mock.post(url).mock(return_value=httpx.Response(200, json=COMPLETION_OUTPUT))
    out = await call(
        flavour, "text_generation", "Hi",
        client_kwargs={"model": MODEL, "provider": "together", "token": KEYS["provider"]},
        details=True, do_sample=True, stop="\n",
    )  # fmt: skip
    body = check_request(post, url, KEYS["provider"])
    assert (body["details"], body["do_sample"], body["stop"]) == (True, True, ["\n"])
    assert "return_full_text" not in body
    check_lookup(lookup, "provider")
    assert out.generated_text == " a library."
    assert out.details.finish_reason == "length"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("provider", sorted(EMBEDDINGS))
async def test_feature_extraction(
    provider: str, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    route, model_first = EMBEDDINGS[provider]
    lookup = mock_mapping(mock, mapping(provider, "feature-extraction"))
    url = base(provider, key, CHAT[provider][0]) + route
    post = mock.post(url).mock(return_value=httpx.Response(200, json=EMBEDDING_OUTPUT))
    out = await call(
        flavour, "feature_extraction", "Today is sunny",
        client_kwargs={"provider": provider, "token": KEYS[key]},
        model=MODEL, normalize=True,
    )  # fmt: skip
    body = check_request(post, url, KEYS[key])
    assert body == {"input": "Today is sunny", "normalize": True, "model": PROVIDER_ID}
    assert (next(iter(body)) == "model") is model_first
    check_lookup(lookup, key)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[0.25, -0.5, 1.0]], dtype=np.float32))


def test_every_third_party_pair_has_a_contract() -> None:
    from hfinfer._generated.providers import PROVIDERS

    tested = {(p, "chat-completion") for p in CHAT}
    tested |= {(p, "text-generation") for p in COMPLETIONS}
    tested |= {(p, "feature-extraction") for p in EMBEDDINGS}
    text = {"chat-completion", "text-generation", "feature-extraction"}
    pairs = {
        (p, t) for p, spec in PROVIDERS.items() if p != "hf-inference" for t in spec.tasks
    }  # fmt: skip
    assert {(p, t) for p, t in pairs if t in text} == tested
    assert len(tested) == 22
    assert len(pairs) == 48  # as huggingface_hub 2.4.0: the media pairs are in test_provider_media


JSON_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
OPENAI_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "schema": JSON_SCHEMA}}
# provider → response_format it receives for OpenAI's json_schema envelope (fact sheet §4.1)
REWRITTEN = {
    "together": {"type": "json_schema", "schema": JSON_SCHEMA},
    "cohere": {"type": "json_object", "schema": JSON_SCHEMA},
    "fireworks-ai": {"type": "json_object", "schema": JSON_SCHEMA},
    "groq": OPENAI_FORMAT,  # as it is
}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("provider", sorted(REWRITTEN))
async def test_chat_json_schema_in_each_providers_form(
    provider: str, flavour: str, mock: respx.MockRouter
) -> None:
    direct, route, _ = CHAT[provider]
    mock_mapping(mock, mapping(provider, "conversational"))
    post = mock.post(direct + route).mock(return_value=httpx.Response(200, json=CHAT_OUTPUT))
    await call(
        flavour, "chat_completion", MESSAGES,
        client_kwargs={"provider": provider, "token": KEYS["provider"]},
        model=MODEL, response_format=OPENAI_FORMAT, extra_body={"safe_prompt": True},
    )  # fmt: skip
    body = check_request(post, direct + route, KEYS["provider"])
    assert body["response_format"] == REWRITTEN[provider]
    assert body["safe_prompt"] is True  # extra_body keys at the root
    tgi = {"type": "json", "value": JSON_SCHEMA}  # any other form passes unchanged
    post.reset()
    await call(
        flavour, "chat_completion", MESSAGES,
        client_kwargs={"provider": provider, "token": KEYS["provider"]},
        model=MODEL, response_format=tgi,
    )  # fmt: skip
    assert json.loads(post.calls.last.request.content)["response_format"] == tgi
