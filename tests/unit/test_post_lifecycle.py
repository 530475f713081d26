"""post() (raw requests) and the client's lifecycle: close() and context managers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from hfinfer import AsyncInferenceClient, HfHubHTTPError, InferenceClient

IE = "https://api-inference.huggingface.co"
LOCAL = "http://127.0.0.1:8080"
LABELS = [[{"label": "POSITIVE", "score": 0.9}]]


# -- post -----------------------------------------------------------------------------------------


@respx.mock
def test_post_json_to_model_id() -> None:
    route = respx.post(f"{IE}/models/org/m").respond(content=b'{"ok": true}')
    out = InferenceClient(token=False).post(
        json={"inputs": "hi", "parameters": {"top_k": 2}}, model="org/m"
    )
    assert out == b'{"ok": true}'
    request = route.calls.last.request
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"inputs": "hi", "parameters": {"top_k": 2}}
    assert request.headers["user-agent"].startswith("hfinfer/")


@respx.mock
def test_post_json_to_url_verbatim() -> None:
    route = respx.post(f"{LOCAL}/custom/path?x=1").respond(content=b"raw")
    assert InferenceClient(f"{LOCAL}/custom/path?x=1", token=False).post(json=[1, 2]) == b"raw"
    assert json.loads(route.calls.last.request.content) == [1, 2]


@respx.mock
def test_post_bytes_data() -> None:
    payload = b"\x89PNG\r\n\x1a\n\x00binary"
    route = respx.post(LOCAL).respond(content=b"done")
    assert InferenceClient(LOCAL, token=False).post(data=payload) == b"done"
    request = route.calls.last.request
    assert request.content == payload
    assert request.headers.get("content-type") != "application/json"


@respx.mock
def test_post_file_path_data(tmp_path: Path) -> None:
    path = tmp_path / "audio.flac"
    path.write_bytes(b"fLaC\x00\x01")
    route = respx.post(LOCAL).respond(content=b"ok")
    InferenceClient(LOCAL, token=False).post(data=path)
    InferenceClient(LOCAL, token=False).post(data=str(path))
    assert [call.request.content for call in route.calls] == [b"fLaC\x00\x01", b"fLaC\x00\x01"]


@respx.mock
def test_post_data_wins_over_json_with_warning() -> None:
    route = respx.post(LOCAL).respond(content=b"ok")
    with pytest.warns(UserWarning, match="Ignoring `json` as `data` is passed as binary."):
        InferenceClient(LOCAL, token=False).post(json={"inputs": "x"}, data=b"bytes")
    assert route.calls.last.request.content == b"bytes"


@respx.mock
def test_post_stream_yields_non_empty_lines() -> None:
    body = b'data:{"token":{"text":"a"}}\n\ndata:{"token":{"text":"b"}}\n\n'
    route = respx.post(LOCAL).respond(content=body)
    lines = InferenceClient(LOCAL, token=False).post(
        json={"inputs": "x", "stream": True}, stream=True
    )
    assert list(lines) == [b'data:{"token":{"text":"a"}}', b'data:{"token":{"text":"b"}}']
    assert json.loads(route.calls.last.request.content) == {"inputs": "x", "stream": True}


@respx.mock
def test_post_task_pipeline_route_and_accept() -> None:
    fe = respx.post(f"{IE}/pipeline/feature-extraction/org/m").respond(content=b"[[0.1]]")
    tti = respx.post(f"{IE}/models/org/sd").respond(content=b"\x89PNG")
    client = InferenceClient(token=False)
    assert client.post(json={"inputs": "x"}, model="org/m", task="feature-extraction") == b"[[0.1]]"
    assert client.post(json={"inputs": "cat"}, model="org/sd", task="text-to-image") == b"\x89PNG"
    assert tti.calls.last.request.headers["accept"] == "image/png"
    assert fe.calls.last.request.headers.get("accept") != "image/png"


@respx.mock
def test_post_task_without_model_uses_recommended(recommended_cache: dict[str, Any]) -> None:
    respx.get("https://huggingface.co/api/tasks").respond(
        json={"fill-mask": {"widgetModels": ["google-bert/bert-base-uncased"]}}
    )
    route = respx.post(f"{IE}/models/google-bert/bert-base-uncased").respond(content=b"[]")
    assert InferenceClient(token=False).post(json={"inputs": "[MASK]"}, task="fill-mask") == b"[]"
    assert route.call_count == 1


def test_post_without_model_or_task() -> None:
    with pytest.raises(ValueError, match="You must specify at least a model"):
        InferenceClient(token=False).post(json={"inputs": "x"})


@respx.mock
def test_post_http_error_with_task_hint() -> None:
    respx.post(LOCAL).respond(422, json={"error": "bad"})
    with pytest.raises(HfHubHTTPError) as info:
        InferenceClient(LOCAL, token=False, max_retries=0).post(json={}, task="fill-mask")
    assert info.value.status_code == 422
    assert str(info.value).endswith("\nbad\nMake sure 'fill-mask' task is supported by the model.")


async def test_post_async_json_data_and_stream() -> None:
    with respx.mock:
        route = respx.post(LOCAL).mock(
            side_effect=[
                httpx.Response(200, content=b'{"a": 1}'),
                httpx.Response(200, content=b"bin-out"),
                httpx.Response(200, content=b"line1\n\nline2\n"),
            ]
        )
        async with AsyncInferenceClient(LOCAL, token=False) as client:
            assert await client.post(json={"inputs": "x"}) == b'{"a": 1}'
            assert await client.post(data=b"\x00\x01") == b"bin-out"
            lines = await client.post(json={"inputs": "y"}, stream=True)
            assert [line async for line in lines] == [b"line1", b"line2"]
    requests = [call.request for call in route.calls]
    assert json.loads(requests[0].content) == {"inputs": "x"}
    assert requests[1].content == b"\x00\x01"
    assert json.loads(requests[2].content) == {"inputs": "y"}


async def test_post_async_without_model_or_task() -> None:
    with pytest.raises(ValueError, match="You must specify at least a model"):
        await AsyncInferenceClient(token=False).post(json={"inputs": "x"})


# -- lifecycle ------------------------------------------------------------------------------------


@respx.mock
def test_context_manager_closes_pool() -> None:
    respx.post(LOCAL).respond(json=LABELS)
    with InferenceClient(LOCAL, token=False) as client:
        assert isinstance(client, InferenceClient)
        client.text_classification("x")
        pool = client.http
        assert not pool.is_closed
    assert pool.is_closed
    assert client._http is None


@respx.mock
def test_close_then_reuse_creates_a_new_pool() -> None:
    route = respx.post(LOCAL).respond(json=LABELS)
    client = InferenceClient(LOCAL, token=False)
    client.text_classification("x")
    first = client.http
    client.close()
    client.close()  # idempotent
    assert first.is_closed
    assert client.text_classification("y") == [{"label": "POSITIVE", "score": 0.9}]
    assert client.http is not first
    assert route.call_count == 2
    client.close()


@respx.mock
def test_close_does_not_close_a_user_http_client() -> None:
    respx.post(LOCAL).respond(json=LABELS)
    user = httpx.Client()
    client = InferenceClient(LOCAL, token=False, http_client=user)
    client.text_classification("x")
    assert client.http is user
    client.close()
    assert not user.is_closed
    user.close()


@respx.mock
def test_pool_is_created_lazily_and_reused() -> None:
    route = respx.post(LOCAL).respond(json=LABELS)
    client = InferenceClient(LOCAL, token=False)
    assert client._http is None
    client.text_classification("a")
    pool = client.http
    client.text_classification("b")
    assert client.http is pool
    assert route.call_count == 2
    client.close()


async def test_async_context_manager_closes_pool() -> None:
    with respx.mock:
        respx.post(LOCAL).respond(json=LABELS)
        async with AsyncInferenceClient(LOCAL, token=False) as client:
            assert isinstance(client, AsyncInferenceClient)
            assert await client.text_classification("x") == [{"label": "POSITIVE", "score": 0.9}]
            pool = client.http
            assert not pool.is_closed
    assert pool.is_closed
    assert client._http is None


async def test_async_close_and_user_client() -> None:
    with respx.mock:
        respx.post(LOCAL).respond(json=LABELS)
        user = httpx.AsyncClient()
        client = AsyncInferenceClient(LOCAL, token=False, http_client=user)
        await client.text_classification("x")
        await client.close()
        assert not user.is_closed
        await user.aclose()

        owned = AsyncInferenceClient(LOCAL, token=False)
        await owned.text_classification("x")
        pool = owned.http
        await owned.close()
        await owned.close()
        assert pool.is_closed


def test_repr_and_read_only_views() -> None:
    client = InferenceClient("org/m", token=False, timeout=3, headers={"X-Custom": "1"})
    assert repr(client) == "<InferenceClient(model='org/m', timeout=3.0)>"
    assert client.model == "org/m"
    assert client.base_url is None
    assert client.timeout == 3.0
    assert client.headers["x-custom"] == "1"
    async_client = AsyncInferenceClient(
        base_url="http://127.0.0.1:1/v1", token=False, trust_env=True
    )
    assert (
        repr(async_client) == "<AsyncInferenceClient(model='http://127.0.0.1:1/v1', timeout=None)>"
    )
    assert async_client.trust_env is True
    assert async_client.base_url == "http://127.0.0.1:1/v1"


@pytest.mark.parametrize("cls", [InferenceClient, AsyncInferenceClient])
def test_constructor_validation(cls: type[InferenceClient]) -> None:
    with pytest.raises(ValueError, match="both `model` and `base_url`"):
        cls("org/m", base_url="http://127.0.0.1:1", token=False)
    with pytest.raises(ValueError, match="timeout"):
        cls(token=False, timeout=0)
    with pytest.raises(ValueError, match="max_retries"):
        cls(token=False, max_retries=-1)
