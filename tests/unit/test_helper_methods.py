"""The methods that are not tasks: health_check, get_endpoint_info, get_model_status,
list_deployed_models and get_recommended_model, sync and async."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from hfinfer import AsyncInferenceClient, HfHubHTTPError, InferenceClient, ModelStatus

IE = "https://api-inference.huggingface.co"
HUB_TASKS = "https://huggingface.co/api/tasks"
LOCAL = "http://127.0.0.1:8080"
INFO = {"model_id": "org/m", "max_input_length": 8191, "version": "2.0.2", "model_sha": None}
TASKS = {
    "text-classification": {"widgetModels": ["distilbert/sst2"], "id": "text-classification"},
    "fill-mask": {"widgetModels": ["google-bert/bert-base-uncased", "other/model"]},
    "text-generation": {"widgetModels": ["org/chat-model"]},
    "empty-task": {"widgetModels": []},
}
FRAMEWORKS = {
    "diffusers": [{"model_id": "sd/xl", "task": "text-to-image", "compute_type": "gpu"}],
    "sentence-transformers": [
        {"model_id": "sentence-transformers/all-MiniLM-L6-v2", "task": "feature-extraction"},
        {"model_id": "BAAI/bge", "task": "sentence-similarity"},
    ],
    "text-generation-inference": [
        {"model_id": "meta-llama/Llama-3", "task": "text-generation"},
        {"model_id": "bigcode/starcoder", "task": "text-generation"},
    ],
    "transformers": [
        {"model_id": "gpt2", "task": "text-generation"},
        {"model_id": "facebook/bart-large-mnli", "task": "zero-shot-classification"},
        {"model_id": "Narsil/deberta", "task": "zero-shot-classification"},
        {"model_id": "gpt2", "task": "text-generation"},  # duplicates are merged
        {"not": "a model"},  # ignored
    ],
}
DEPLOYED = {
    "text-to-image": ["sd/xl"],
    "feature-extraction": ["BAAI/bge", "sentence-transformers/all-MiniLM-L6-v2"],
    "sentence-similarity": ["BAAI/bge", "sentence-transformers/all-MiniLM-L6-v2"],
    "text-generation": ["bigcode/starcoder", "gpt2", "meta-llama/Llama-3"],
    "zero-shot-classification": ["facebook/bart-large-mnli", "Narsil/deberta"],
}


def mock_frameworks() -> dict[str, respx.Route]:
    return {
        fw: respx.get(f"{IE}/framework/{fw}").respond(json=models)
        for fw, models in FRAMEWORKS.items()
    }


# -- health_check ---------------------------------------------------------------------------------


@respx.mock
def test_health_check_true_on_200() -> None:
    route = respx.get(f"{LOCAL}/health").respond(200)
    assert InferenceClient(LOCAL, token=False).health_check() is True
    assert route.call_count == 1


@pytest.mark.parametrize("status", [500, 503, 404])
@respx.mock
def test_health_check_false_on_error_status(status: int) -> None:
    route = respx.get(f"{LOCAL}/health").respond(status)
    assert InferenceClient(token=False).health_check(LOCAL + "/") is False
    assert route.call_count == 1  # never retried


@respx.mock
def test_health_check_false_on_connection_error() -> None:
    respx.get(f"{LOCAL}/health").mock(side_effect=httpx.ConnectError("refused"))
    assert InferenceClient(LOCAL, token=False).health_check() is False


def test_health_check_needs_a_url() -> None:
    with pytest.raises(ValueError, match="Model must be an Inference Endpoint URL"):
        InferenceClient("org/m", token=False).health_check()
    with pytest.raises(ValueError, match="Model must be an Inference Endpoint URL"):
        InferenceClient(token=False).health_check()


async def test_health_check_async() -> None:
    with respx.mock:
        respx.get(f"{LOCAL}/health").respond(200)
        respx.get("http://127.0.0.1:8081/health").respond(500)
        async with AsyncInferenceClient(LOCAL, token=False) as client:
            assert await client.health_check() is True
            assert await client.health_check("http://127.0.0.1:8081") is False
    async_client = AsyncInferenceClient("org/m", token=False)
    with pytest.raises(ValueError, match="Inference Endpoint URL"):
        await async_client.health_check()


# -- get_endpoint_info ----------------------------------------------------------------------------


@respx.mock
def test_get_endpoint_info_url() -> None:
    route = respx.get(f"{LOCAL}/info").respond(json=INFO)
    assert InferenceClient(LOCAL + "/", token=False).get_endpoint_info() == INFO
    assert route.call_count == 1


@respx.mock
def test_get_endpoint_info_model_id() -> None:
    route = respx.get(f"{IE}/models/org/m/info").respond(json=INFO)
    assert InferenceClient(token=False).get_endpoint_info(model="org/m") == INFO
    assert route.call_count == 1


def test_get_endpoint_info_needs_a_model() -> None:
    with pytest.raises(ValueError, match=r"Model id not provided\."):
        InferenceClient(token=False).get_endpoint_info()


@respx.mock
def test_get_endpoint_info_http_error() -> None:
    respx.get(f"{LOCAL}/info").respond(404, json={"error": "Not Found"})
    with pytest.raises(HfHubHTTPError) as info:
        InferenceClient(LOCAL, token=False, max_retries=0).get_endpoint_info()
    assert info.value.status_code == 404
    assert info.value.server_message == "Not Found"


async def test_get_endpoint_info_async() -> None:
    with respx.mock:
        respx.get(f"{LOCAL}/info").respond(json=INFO)
        async with AsyncInferenceClient(token=False) as client:
            assert await client.get_endpoint_info(model=LOCAL) == INFO


# -- get_model_status -----------------------------------------------------------------------------


STATUS = {"loaded": True, "state": "Loaded", "compute_type": {"gpu": 1}, "framework": "tgi"}


@respx.mock
def test_get_model_status() -> None:
    route = respx.get(f"{IE}/status/meta-llama/Llama-3").respond(json=STATUS)
    status = InferenceClient(token=False).get_model_status("meta-llama/Llama-3")
    assert route.call_count == 1
    assert isinstance(status, ModelStatus)
    assert status == ModelStatus(
        loaded=True, state="Loaded", compute_type={"gpu": 1}, framework="tgi"
    )


@respx.mock
def test_get_model_status_uses_client_model() -> None:
    respx.get(f"{IE}/status/org/m").respond(
        json={
            "loaded": False,
            "state": "Loadable",
            "compute_type": "cpu",
            "framework": "transformers",
        }
    )
    status = InferenceClient("org/m", token=False).get_model_status()
    assert status.loaded is False
    assert status.state == "Loadable"
    assert status.framework == "transformers"


@respx.mock
def test_get_model_status_error_payload() -> None:
    respx.get(f"{IE}/status/org/unknown").respond(
        json={"error": "Model org/unknown does not exist"}
    )
    with pytest.raises(ValueError, match="Model org/unknown does not exist"):
        InferenceClient(token=False).get_model_status("org/unknown")


def test_get_model_status_rejects_urls_and_missing_model() -> None:
    client = InferenceClient(token=False)
    with pytest.raises(NotImplementedError):
        client.get_model_status("https://x.endpoints.huggingface.cloud")
    with pytest.raises(ValueError, match=r"Model id not provided\."):
        client.get_model_status()


async def test_get_model_status_async() -> None:
    with respx.mock:
        respx.get(f"{IE}/status/org/m").respond(json=STATUS)
        async with AsyncInferenceClient(token=False) as client:
            status = await client.get_model_status("org/m")
    assert status == ModelStatus(True, "Loaded", {"gpu": 1}, "tgi")


# -- list_deployed_models -------------------------------------------------------------------------


@respx.mock
def test_list_deployed_models_main_frameworks() -> None:
    routes = mock_frameworks()
    assert InferenceClient(token=False).list_deployed_models() == DEPLOYED
    assert {fw: r.call_count for fw, r in routes.items()} == dict.fromkeys(FRAMEWORKS, 1)


@respx.mock
def test_list_deployed_models_one_framework() -> None:
    routes = mock_frameworks()
    result = InferenceClient(token=False).list_deployed_models("sentence-transformers")
    assert result == {
        "feature-extraction": ["BAAI/bge", "sentence-transformers/all-MiniLM-L6-v2"],
        "sentence-similarity": ["BAAI/bge", "sentence-transformers/all-MiniLM-L6-v2"],
    }
    assert routes["sentence-transformers"].call_count == 1
    assert routes["transformers"].call_count == 0


@respx.mock
def test_list_deployed_models_custom_list() -> None:
    routes = mock_frameworks()
    result = InferenceClient(token=False).list_deployed_models(["diffusers", "diffusers"])
    assert result == {"text-to-image": ["sd/xl"]}
    assert routes["diffusers"].call_count == 1


@respx.mock
def test_list_deployed_models_all_frameworks() -> None:
    route = respx.get(url__regex=rf"^{IE}/framework/[^/]+$").respond(json=[])
    assert InferenceClient(token=False).list_deployed_models("all") == {}
    requested = {call.request.url.path.rsplit("/", 1)[-1] for call in route.calls}
    assert len(requested) == route.call_count == 28
    assert {"diffusers", "timm", "spacy", "sklearn", "open_clip", "pyannote-audio"} <= requested


async def test_list_deployed_models_async() -> None:
    with respx.mock:
        routes = mock_frameworks()
        async with AsyncInferenceClient(token=False) as client:
            assert await client.list_deployed_models() == DEPLOYED
            st = await client.list_deployed_models("sentence-transformers")
    assert st["feature-extraction"] == st["sentence-similarity"] == DEPLOYED["feature-extraction"]
    assert routes["sentence-transformers"].call_count == 2
    assert routes["diffusers"].call_count == 1


# -- get_recommended_model ------------------------------------------------------------------------


@respx.mock
def test_get_recommended_model(recommended_cache: dict[str, Any]) -> None:
    route = respx.get(HUB_TASKS).respond(json=TASKS)
    client = InferenceClient(token=False)
    assert client.get_recommended_model("fill-mask") == "google-bert/bert-base-uncased"
    assert client.get_recommended_model("text-classification") == "distilbert/sst2"
    assert route.call_count == 1  # fetched once, then cached
    assert recommended_cache == TASKS


@respx.mock
def test_get_recommended_model_unknown_task(recommended_cache: dict[str, Any]) -> None:
    respx.get(HUB_TASKS).respond(json=TASKS)
    client = InferenceClient(token=False)
    for task in ("no-such-task", "empty-task"):
        with pytest.raises(ValueError, match=f"Task {task} has no recommended model"):
            client.get_recommended_model(task)


@respx.mock
def test_hf_endpoint_env_for_recommended_model(
    recommended_cache: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9999/")
    route = respx.get("http://127.0.0.1:9999/api/tasks").respond(json=TASKS)
    assert InferenceClient(token=False).get_recommended_model("fill-mask") == (
        "google-bert/bert-base-uncased"
    )
    assert route.call_count == 1


@respx.mock
def test_task_without_model_uses_recommended_model(recommended_cache: dict[str, Any]) -> None:
    respx.get(HUB_TASKS).respond(json=TASKS)
    route = respx.post(f"{IE}/models/distilbert/sst2").respond(
        json=[[{"label": "POSITIVE", "score": 0.99}]]
    )
    result = InferenceClient(token=False).text_classification("I love this")
    assert result == [{"label": "POSITIVE", "score": 0.99}]
    assert json.loads(route.calls.last.request.content) == {"inputs": "I love this"}


@respx.mock
def test_chat_without_model_uses_text_generation_recommendation(
    recommended_cache: dict[str, Any],
) -> None:
    respx.get(HUB_TASKS).respond(json=TASKS)
    route = respx.post(f"{IE}/models/org/chat-model/v1/chat/completions").respond(
        json={
            "choices": [{"finish_reason": "stop", "index": 0,
                         "message": {"role": "assistant", "content": "Hi!"}}],
            "created": 1, "id": "x", "model": "org/chat-model", "system_fingerprint": "fp",
            "usage": {"completion_tokens": 2, "prompt_tokens": 3, "total_tokens": 5},
        }
    )  # fmt: skip
    out = InferenceClient(token=False).chat_completion([{"role": "user", "content": "Hello"}])
    assert out.choices[0].message.content == "Hi!"
    body = json.loads(route.calls.last.request.content)
    assert body == {
        "model": "tgi",
        "messages": [{"role": "user", "content": "Hello"}],
        "stream": False,
    }


async def test_get_recommended_model_async(recommended_cache: dict[str, Any]) -> None:
    with respx.mock:
        route = respx.get(HUB_TASKS).respond(json=TASKS)
        async with AsyncInferenceClient(token=False) as client:
            assert await client.get_recommended_model("fill-mask") == (
                "google-bert/bert-base-uncased"
            )
            assert await client.get_recommended_model("text-generation") == "org/chat-model"
            with pytest.raises(ValueError, match="has no recommended model"):
                await client.get_recommended_model("no-such-task")
    assert route.call_count == 1


def test_recommended_model_works_across_event_loops(recommended_cache: dict[str, Any]) -> None:
    import asyncio

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)  # the fetch suspends, so the second caller waits on the lock
        return httpx.Response(200, json=TASKS)

    async def two_concurrent_calls() -> list[str]:
        recommended_cache.clear()
        async with AsyncInferenceClient(token=False) as client:
            return list(
                await asyncio.gather(
                    client.get_recommended_model("fill-mask"),
                    client.get_recommended_model("text-generation"),
                )
            )

    expected = ["google-bert/bert-base-uncased", "org/chat-model"]
    with respx.mock:
        respx.get(HUB_TASKS).mock(side_effect=slow)
        assert asyncio.run(two_concurrent_calls()) == expected
        assert asyncio.run(two_concurrent_calls()) == expected
