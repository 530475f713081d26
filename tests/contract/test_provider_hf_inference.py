"""Every task through provider="hf-inference" (and "auto" resolving to it), sync and async, with a
Hugging Face token and with another key: the same wire bodies as the endpoint contracts
(test_tasks_text.py, test_tasks_binary.py), sent to https://router.huggingface.co/hf-inference."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from contract_helpers import FLAVOURS, Case, call, case_params, only_request
from test_tasks_binary import CASES as BINARY_CASES
from test_tasks_text import CASES as TEXT_CASES

from hfinfer import _hub

BASE = "https://router.huggingface.co/hf-inference"
KEYS = ("hf_router_token", "other-key")
CASES = [*TEXT_CASES, *BINARY_CASES]


@pytest.fixture(autouse=True)
def _providers_env(monkeypatch: pytest.MonkeyPatch) -> Any:
    """No HF_INFERENCE_ENDPOINT (the contract conftest pins it): a model id goes to providers."""
    monkeypatch.delenv("HF_INFERENCE_ENDPOINT", raising=False)
    _hub.clear_mappings()
    yield
    _hub.clear_mappings()


def url_of(case: Case) -> str:
    if case.route == "chat":
        return f"{BASE}/models/{case.model}/v1/chat/completions"
    if case.route == "models":
        return f"{BASE}/models/{case.model}"
    task = case.route.removeprefix("pipeline/")
    return f"{BASE}/models/{case.model}/pipeline/{task}"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("case", case_params(CASES))
async def test_hf_inference_contract(
    case: Case, flavour: str, key: str, mock: respx.MockRouter
) -> None:
    url = url_of(case)
    route = mock.post(url).mock(return_value=case.reply())
    options = {"provider": "hf-inference", "token": key}
    result = await call(
        flavour, case.method, *case.args, client_kwargs=options, model=case.model, **case.kwargs
    )
    request = only_request(route)
    assert len(mock.calls) == 1  # no Hub lookup: hf-inference serves the model id itself
    assert request.method == "POST"
    assert str(request.url) == url
    assert request.headers["authorization"] == f"Bearer {key}"
    if case.accept is not None:
        assert request.headers["accept"] == case.accept
    expected = case.expected_body("id")
    if isinstance(expected, bytes):
        assert request.content == expected
        assert request.headers.get("content-type") != "application/json"
    else:
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == expected
    case.check(result)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_auto_resolves_to_hf_inference_from_the_mapping(
    flavour: str, mock: respx.MockRouter
) -> None:
    model = "distilbert/distilbert-base-uncased-finetuned-sst-2-english"
    entry = {"providerId": model, "task": "text-classification", "status": "live"}
    mock.get(f"https://huggingface.co/api/models/{model}?expand=inferenceProviderMapping").mock(
        return_value=httpx.Response(200, json={"inferenceProviderMapping": {"hf-inference": entry}})
    )
    post = mock.post(f"{BASE}/models/{model}").mock(
        return_value=httpx.Response(200, json=[[{"label": "POSITIVE", "score": 0.99}]])
    )
    out = await call(flavour, "text_classification", "great", client_kwargs={"token": KEYS[0]}, model=model)  # fmt: skip
    assert json.loads(post.calls.last.request.content) == {"inputs": "great"}
    assert out[0].label == "POSITIVE"


def test_every_task_is_an_hf_inference_pair() -> None:
    from hfinfer._generated.providers import PROVIDERS

    methods = {c.method for c in CASES}
    assert len(PROVIDERS["hf-inference"].tasks) == len(methods) == 27
