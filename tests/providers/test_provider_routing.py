"""Choosing the provider: "auto" and the default provider=None, the Hub mapping (its lookup, cache
and errors), bill_to, and the endpoint routing that a URL model, base_url or
HF_INFERENCE_ENDPOINT keep — sync and async."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
import respx
from test_provider_contracts import (
    CHAT_OUTPUT,
    COMPLETION_OUTPUT,
    FLAVOURS,
    HUB,
    MESSAGES,
    MODEL,
    PROVIDER_ID,
    ROUTER,
    call,
    mapping,
    mock_mapping,
)

from hfinfer import InferenceClient, InferenceInputError, InferenceProviderError, _hub

TOKEN = "hf_router_token"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("provider", ["auto", None])
async def test_auto_chat_goes_to_the_router_without_lookup(
    provider: str | None, flavour: str, mock: respx.MockRouter
) -> None:
    url = f"{ROUTER}/v1/chat/completions"
    post = mock.post(url).mock(return_value=httpx.Response(200, json=CHAT_OUTPUT))
    kwargs = {"provider": provider} if provider else {}
    out = await call(
        flavour, "chat_completion", MESSAGES, client_kwargs={"token": TOKEN, **kwargs},
        model=MODEL, max_tokens=4,
    )  # fmt: skip
    request = post.calls.last.request
    assert str(request.url) == url
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = json.loads(request.content)
    assert body == {"model": MODEL, "messages": MESSAGES, "stream": False, "max_tokens": 4}
    assert next(iter(body)) == "model"
    assert len(mock.calls) == 1  # no Hub lookup
    assert out.choices[0].message.content == "Paris."


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_auto_chat_refuses_a_provider_key(flavour: str, mock: respx.MockRouter) -> None:
    with pytest.raises(InferenceProviderError, match="needs a Hugging Face token") as info:
        await call(
            flavour, "chat_completion", MESSAGES,
            client_kwargs={"token": "sk-x", "provider": "auto"}, model=MODEL,
        )  # fmt: skip
    assert info.value.provider == "auto"
    assert not mock.calls


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("provider", ["auto", None])
async def test_auto_task_takes_the_first_mapped_provider_serving_it(
    provider: str | None, flavour: str, mock: respx.MockRouter
) -> None:
    payload = {
        "inferenceProviderMapping": {
            "fal-ai": {"providerId": "x", "task": "text-to-image", "status": "live"},
            "groq": {"providerId": "g", "task": "conversational", "status": "live"},
            "novita": {"providerId": PROVIDER_ID, "task": "text-generation", "status": "live"},
            "together": {"providerId": "t", "task": "text-generation", "status": "live"},
        }
    }
    lookup = mock_mapping(mock, payload)
    url = f"{ROUTER}/novita/v3/openai/completions"
    post = mock.post(url).mock(return_value=httpx.Response(200, json=COMPLETION_OUTPUT))
    kwargs = {"provider": provider} if provider else {}
    out = await call(
        flavour, "text_generation", "Hi", client_kwargs={"token": TOKEN, "model": MODEL, **kwargs}
    )
    assert out == " a library."
    assert json.loads(post.calls.last.request.content)["model"] == PROVIDER_ID
    assert lookup.call_count == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_mapping_is_cached_per_process(flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, mapping("together", "text-generation"))
    mock.post(f"{ROUTER}/together/v1/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION_OUTPUT)
    )
    for _ in range(3):
        await call(
            flavour, "text_generation", "Hi",
            client_kwargs={"token": TOKEN, "model": MODEL, "provider": "together"},
        )  # fmt: skip
    assert lookup.call_count == 1


def test_mapping_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hub, "MAPPING_CACHE_SIZE", 3)
    for i in range(5):
        _hub.store_mapping(HUB, f"m{i}", ())
    assert _hub.cached_mapping(HUB, "m0") is None
    assert _hub.cached_mapping(HUB, "m4") == ()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("payload", "message", "supported"),
    [
        (mapping("groq", "conversational"), "not supported by provider 'together'", ("groq",)),
        (mapping("together", "conversational"), "for task 'conversational'", ("conversational",)),
        ({"id": MODEL}, "No provider mapping found", ()),
    ],
    ids=["other-provider", "other-task", "no-mapping"],
)
async def test_mapping_errors_are_typed(
    payload: dict[str, Any],
    message: str,
    supported: tuple[str, ...],
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    mock_mapping(mock, payload)
    with pytest.raises(InferenceProviderError, match=message) as info:
        await call(
            flavour, "text_generation", "Hi",
            client_kwargs={"token": TOKEN, "model": MODEL, "provider": "together"},
        )  # fmt: skip
    assert isinstance(info.value, ValueError)
    assert info.value.model == MODEL
    assert info.value.supported == supported
    assert len(mock.calls) == 1  # the lookup only


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_provider_without_the_task_fails_before_any_request(
    flavour: str, mock: respx.MockRouter
) -> None:
    with pytest.raises(InferenceProviderError, match="not supported by provider 'groq'") as info:
        await call(
            flavour, "feature_extraction", "Hi",
            client_kwargs={"token": TOKEN, "model": MODEL, "provider": "groq"},
        )  # fmt: skip
    assert info.value.supported == ("chat-completion",)
    assert not mock.calls


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("status", ["staging", "error"])
async def test_staging_and_error_status_warn(
    status: str, flavour: str, mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    mock_mapping(mock, mapping("together", "text-generation", status))
    mock.post(f"{ROUTER}/together/v1/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION_OUTPUT)
    )
    with caplog.at_level(logging.WARNING, logger="hfinfer"):
        await call(
            flavour, "text_generation", "Hi",
            client_kwargs={"token": TOKEN, "model": MODEL, "provider": "together"},
        )  # fmt: skip
    assert any(MODEL in r.getMessage() and "together" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("token", [TOKEN, "sk-direct"])
async def test_bill_to_goes_on_every_request(
    token: str, flavour: str, mock: respx.MockRouter
) -> None:
    lookup = mock_mapping(mock, mapping("together", "text-generation"))
    base = f"{ROUTER}/together" if token.startswith("hf_") else "https://api.together.xyz"
    post = mock.post(f"{base}/v1/completions").mock(
        return_value=httpx.Response(200, json=COMPLETION_OUTPUT)
    )
    options = {"token": token, "model": MODEL, "provider": "together", "bill_to": "my-org"}
    if token.startswith("hf_"):
        await call(flavour, "text_generation", "Hi", client_kwargs=options)
    else:
        with pytest.warns(UserWarning, match="bill_to"):
            await call(flavour, "text_generation", "Hi", client_kwargs=options)
    for route in (lookup, post):
        assert route.calls.last.request.headers["x-hf-bill-to"] == "my-org"


def test_constructor_checks_provider() -> None:
    with pytest.raises(InferenceInputError, match="`provider` must be one of") as info:
        InferenceClient(provider="no-such-provider")  # type: ignore[arg-type]
    assert info.value.parameter == "provider"
    assert InferenceClient(provider="auto").provider == "auto"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("how", ["url", "base_url", "HF_INFERENCE_ENDPOINT"])
async def test_endpoint_routing_is_kept(
    how: str, flavour: str, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """provider=None with a URL model, base_url or HF_INFERENCE_ENDPOINT: as before providers."""
    options: dict[str, Any] = {"token": TOKEN}
    if how == "url":
        options["model"], url = "http://tgi.test/", "http://tgi.test/v1/chat/completions"
    elif how == "base_url":
        options["base_url"], url = "http://tgi.test/v1", "http://tgi.test/v1/chat/completions"
    else:
        monkeypatch.setenv("HF_INFERENCE_ENDPOINT", "http://ie.test")
        options["model"], url = MODEL, f"http://ie.test/models/{MODEL}/v1/chat/completions"
    post = mock.post(url).mock(return_value=httpx.Response(200, json=CHAT_OUTPUT))
    await call(flavour, "chat_completion", MESSAGES, client_kwargs=options)
    assert len(mock.calls) == 1 and post.call_count == 1
    expected = MODEL if how == "HF_INFERENCE_ENDPOINT" else "tgi"
    assert json.loads(post.calls.last.request.content)["model"] == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_text_completions_stream_is_reshaped(flavour: str, mock: respx.MockRouter) -> None:
    mock_mapping(mock, mapping("together", "text-generation"))
    events = [{"choices": [{"text": "Hel", "index": 0}]}, {"choices": [{"text": "lo", "index": 0}]}]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    post = mock.post(f"{ROUTER}/together/v1/completions").mock(
        return_value=httpx.Response(
            200, content=sse.encode(), headers={"content-type": "text/event-stream"}
        )
    )
    options = {"token": TOKEN, "model": MODEL, "provider": "together"}
    if flavour == "sync":
        with InferenceClient(**options) as client:  # type: ignore[arg-type]
            chunks = list(client.text_generation("Hi", stream=True))
    else:
        from hfinfer import AsyncInferenceClient

        async with AsyncInferenceClient(**options) as aclient:  # type: ignore[arg-type]
            chunks = [c async for c in await aclient.text_generation("Hi", stream=True)]
    assert chunks == ["Hel", "lo"]
    assert json.loads(post.calls.last.request.content)["stream"] is True
