"""Cross-server embeddings, health checks and real error bodies, sync and async.

- The same text embedded by the HF pipeline server (sentence-transformers) and by llama-server
  (/v1/embeddings, the MiniLM GGUF) must agree.
- Errors are what the servers really send: api-inference-community's 400 with a *list* of
  messages and its 500 ``"unknown error"``; llama-server's OpenAI-style error *object*.
"""

from __future__ import annotations

import json

import pytest
from conftest import Reference
from rs_util import CAT, MINILM, SUNNY, USER_HELLO, cosine, openai_embedding
from servers import RunningServer

from hfinfer import (
    AsyncInferenceClient,
    BadRequestError,
    HfHubHTTPError,
    InferenceClient,
)

pytestmark = pytest.mark.realserver

CROSS_SERVER_COSINE_MIN = 0.999


def _embeddings_url(server: RunningServer) -> str:
    return server.url + "/v1/embeddings"


def _chat_url(server: RunningServer) -> str:
    return server.url + "/v1/chat/completions"


# -- the same embedding from two different servers -----------------------------------------------


@pytest.mark.parametrize("text", [SUNNY, CAT])
def test_pipeline_and_llama_embeddings_agree_sync(
    pipeline_server: RunningServer,
    llama_embed_server: RunningServer,
    reference: Reference,
    text: str,
) -> None:
    with InferenceClient() as client:
        hf = client.feature_extraction(text, model=pipeline_server.url)
        raw = client.post(
            json={"input": text, "model": MINILM}, model=_embeddings_url(llama_embed_server)
        )
    oa = openai_embedding(raw)
    assert oa.shape == (384,)
    assert cosine(hf, oa) >= CROSS_SERVER_COSINE_MIN
    assert cosine(oa, reference.embedding(text)) >= CROSS_SERVER_COSINE_MIN


async def test_pipeline_and_llama_embeddings_agree_async(
    pipeline_server: RunningServer,
    llama_embed_server: RunningServer,
    reference: Reference,
) -> None:
    async with AsyncInferenceClient() as client:
        hf = await client.feature_extraction(SUNNY, model=pipeline_server.url)
        raw = await client.post(
            json={"input": [SUNNY, CAT], "model": MINILM}, model=_embeddings_url(llama_embed_server)
        )
    data = json.loads(raw)["data"]
    assert [item["index"] for item in data] == [0, 1]
    assert cosine(hf, data[0]["embedding"]) >= CROSS_SERVER_COSINE_MIN
    assert cosine(data[1]["embedding"], reference.embedding(CAT)) >= CROSS_SERVER_COSINE_MIN


# -- health ---------------------------------------------------------------------------------------


def test_health_check_sync(
    llama_chat_server: RunningServer, llama_embed_server: RunningServer
) -> None:
    with InferenceClient() as client:
        assert client.health_check(llama_chat_server.url) is True
        assert client.health_check(llama_embed_server.url) is True
    with InferenceClient(model=llama_chat_server.url) as client:
        assert client.health_check() is True


async def test_health_check_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient() as client:
        assert await client.health_check(llama_chat_server.url) is True


# -- api-inference-community errors ---------------------------------------------------------------


def _check_http_error(err: HfHubHTTPError, status: int, fragment: str) -> None:
    assert err.status_code == status
    assert err.server_message is not None
    assert fragment in err.server_message, err.server_message
    assert err.request_id is None or isinstance(err.request_id, str)
    assert str(status) in str(err)


def test_pipeline_400_error_list_sync(pipeline_server: RunningServer) -> None:
    with InferenceClient() as client:
        # feature-extraction of an empty list: {"error": ["Value error, ... at least one ..."]}
        with pytest.raises(BadRequestError) as info:
            client.post(json={"inputs": []}, model=pipeline_server.url)
        _check_http_error(info.value, 400, "at least one input is required")
        # sentence-similarity without "sentences": {"error": ["Field required: received ..."]}
        with pytest.raises(BadRequestError) as info:
            client.post(
                json={"inputs": {"source_sentence": SUNNY}},
                model=pipeline_server.url + "/pipeline/sentence-similarity",
            )
        _check_http_error(info.value, 400, "Field required")


async def test_pipeline_400_error_list_async(pipeline_server: RunningServer) -> None:
    async with AsyncInferenceClient() as client:
        with pytest.raises(BadRequestError) as info:
            await client.post(
                json={"inputs": {"source_sentence": SUNNY}},
                model=pipeline_server.url + "/pipeline/sentence-similarity",
            )
    _check_http_error(info.value, 400, "Field required")


def test_pipeline_500_unknown_error_sync(pipeline_server: RunningServer) -> None:
    url = pipeline_server.url + "/pipeline/sentence-similarity"
    with InferenceClient(max_retries=0) as client, pytest.raises(HfHubHTTPError) as info:
        client.sentence_similarity(SUNNY, other_sentences=[], model=url)
    assert not isinstance(info.value, BadRequestError)
    _check_http_error(info.value, 500, "unknown error")


async def test_pipeline_500_unknown_error_async(pipeline_server: RunningServer) -> None:
    url = pipeline_server.url + "/pipeline/sentence-similarity"
    async with AsyncInferenceClient(model=url) as client:
        with pytest.raises(HfHubHTTPError) as info:
            await client.sentence_similarity(SUNNY, other_sentences=[])
    _check_http_error(info.value, 500, "unknown error")


# -- llama-server errors ----------------------------------------------------------------------------


def test_llama_400_error_object_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient() as client:
        # {"error": {"code": 400, "message": "Expected 'messages' to be an array", ...}}
        with pytest.raises(BadRequestError) as info:
            client.post(json={"messages": "x"}, model=_chat_url(llama_chat_server))
        _check_http_error(info.value, 400, "Expected 'messages' to be an array")
        # the client is still usable after an error response (the server closed the connection)
        out = client.chat_completion(USER_HELLO, model=llama_chat_server.url, max_tokens=2)
        assert out.choices


async def test_llama_400_error_object_async(llama_chat_server: RunningServer) -> None:
    async with AsyncInferenceClient() as client:
        with pytest.raises(BadRequestError) as info:
            await client.post(json={"messages": "x"}, model=_chat_url(llama_chat_server))
        _check_http_error(info.value, 400, "Expected 'messages' to be an array")
        out = await client.chat_completion(USER_HELLO, model=llama_chat_server.url, max_tokens=2)
        assert out.choices


def test_llama_400_on_streamed_request_sync(llama_chat_server: RunningServer) -> None:
    # n=2 is refused before any event is sent: a plain JSON 400, not an SSE stream
    with (
        InferenceClient(model=llama_chat_server.url) as client,
        pytest.raises(BadRequestError) as info,
    ):
        list(client.chat_completion(USER_HELLO, n=2, max_tokens=2, stream=True))
    _check_http_error(info.value, 400, "'n'")


def test_llama_404_unknown_route_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient() as client, pytest.raises(HfHubHTTPError) as info:
        client.post(json={"inputs": "x"}, model=llama_chat_server.url + "/no/such/route")
    assert not isinstance(info.value, BadRequestError)
    _check_http_error(info.value, 404, "File Not Found")


async def test_llama_404_unknown_route_async(llama_embed_server: RunningServer) -> None:
    async with AsyncInferenceClient() as client:
        with pytest.raises(HfHubHTTPError) as info:
            # a TGI/pipeline-style call on a server that has no such route
            await client.feature_extraction(SUNNY, model=llama_embed_server.url)
    _check_http_error(info.value, 404, "File Not Found")


def test_llama_501_embeddings_on_chat_server_sync(llama_chat_server: RunningServer) -> None:
    with InferenceClient(max_retries=0) as client, pytest.raises(HfHubHTTPError) as info:
        client.post(json={"input": SUNNY}, model=_embeddings_url(llama_chat_server))
    _check_http_error(info.value, 501, "does not support embeddings")
