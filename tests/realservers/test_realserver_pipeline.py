"""The HF pipeline API (api-inference-community + all-MiniLM-L6-v2), sync and async."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Reference
from numpy.typing import NDArray
from rs_util import HAPPY, RAINY, SUNNY, as_rows, cosine
from servers import RunningServer

from hfinfer import AsyncInferenceClient, InferenceClient

pytestmark = pytest.mark.realserver

COSINE_MIN = 0.9999


def _fe_url(server: RunningServer) -> str:
    return server.url + "/pipeline/feature-extraction"


def _ss_url(server: RunningServer) -> str:
    return server.url + "/pipeline/sentence-similarity"


def _check_single(result: NDArray[np.float32], reference: Reference) -> None:
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float32
    assert result.size == 384
    rows = as_rows(result)
    assert rows.shape == (1, 384)
    assert cosine(rows[0], reference.embedding(SUNNY)) >= COSINE_MIN
    # the model's output is L2-normalised; so is what the server returns
    assert abs(float(np.linalg.norm(rows[0])) - 1.0) < 1e-3


def _check_batch(result: NDArray[np.float32], reference: Reference) -> None:
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float32
    assert result.shape == (2, 384)
    assert cosine(result[0], reference.embedding(SUNNY)) >= COSINE_MIN
    assert cosine(result[1], reference.embedding(RAINY)) >= COSINE_MIN


def _check_similarity(scores: list[float], reference: Reference) -> None:
    expected = reference.similarity[(SUNNY, (HAPPY, RAINY))]
    assert len(scores) == 2
    assert all(isinstance(s, float) for s in scores)
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    assert scores[1] > scores[0]  # "rainy day" is closer to "sunny day" than "happy person"


# -- feature extraction ---------------------------------------------------------------------


@pytest.mark.parametrize("route", ["root", "pipeline"])
def test_feature_extraction_one_text_sync(
    pipeline_server: RunningServer, reference: Reference, route: str
) -> None:
    url = pipeline_server.url if route == "root" else _fe_url(pipeline_server)
    with InferenceClient() as client:
        result = client.feature_extraction(SUNNY, model=url)
    _check_single(result, reference)


@pytest.mark.parametrize("route", ["root", "pipeline"])
async def test_feature_extraction_one_text_async(
    pipeline_server: RunningServer, reference: Reference, route: str
) -> None:
    url = pipeline_server.url if route == "root" else _fe_url(pipeline_server)
    async with AsyncInferenceClient() as client:
        result = await client.feature_extraction(SUNNY, model=url)
    _check_single(result, reference)


def test_feature_extraction_batch_sync(
    pipeline_server: RunningServer, reference: Reference
) -> None:
    client = InferenceClient(model=pipeline_server.url)
    _check_batch(client.feature_extraction([SUNNY, RAINY]), reference)
    client.close()


async def test_feature_extraction_batch_async(
    pipeline_server: RunningServer, reference: Reference
) -> None:
    async with AsyncInferenceClient(model=pipeline_server.url) as client:
        _check_batch(await client.feature_extraction([SUNNY, RAINY]), reference)


# -- sentence similarity --------------------------------------------------------------------


def test_sentence_similarity_sync(pipeline_server: RunningServer, reference: Reference) -> None:
    with InferenceClient() as client:
        scores = client.sentence_similarity(SUNNY, [HAPPY, RAINY], model=_ss_url(pipeline_server))
    _check_similarity(scores, reference)


async def test_sentence_similarity_async(
    pipeline_server: RunningServer, reference: Reference
) -> None:
    async with AsyncInferenceClient(model=_ss_url(pipeline_server)) as client:
        scores = await client.sentence_similarity(SUNNY, other_sentences=[HAPPY, RAINY])
    _check_similarity(scores, reference)
