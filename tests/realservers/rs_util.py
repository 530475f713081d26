"""Small helpers shared by the real-server tests."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
from servers import MINILM_ALIAS, TINY_LLAMA_ALIAS

from hfinfer import ChatCompletionInputMessage

# Texts whose sentence-transformers embeddings the tests compare against.
SUNNY = "Today is a sunny day"
HAPPY = "That is a happy person"
RAINY = "Today is a rainy day"
CAT = "The cat sat on the mat."
REFERENCE_TEXTS: tuple[str, ...] = (SUNNY, HAPPY, RAINY, CAT)
SIMILARITY_CASES: tuple[tuple[str, tuple[str, ...]], ...] = ((SUNNY, (HAPPY, RAINY)),)

#: The alias the llama-server processes are started with (``--alias``).
TINY_LLAMA = TINY_LLAMA_ALIAS
MINILM = MINILM_ALIAS

#: Typed as the client's parameter is (``list`` is invariant: a ``list[dict[str, str]]`` would
#: not type-check against it).
USER_HELLO: list[ChatCompletionInputMessage | dict[str, Any]] = [
    {"role": "user", "content": "hello"}
]

FloatArray = npt.NDArray[np.float64]


def cosine(a: Any, b: Any) -> float:
    """Cosine similarity of two vectors (any array-like of one dimension after squeezing)."""
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    assert x.shape == y.shape, (x.shape, y.shape)
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y)))


def as_rows(a: Any) -> FloatArray:
    """A feature-extraction result as a 2-d (n, dim) float64 array, whatever the nesting."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1:
        return arr.reshape(1, -1)
    return arr.reshape(-1, arr.shape[-1])


def openai_embedding(raw: bytes) -> FloatArray:
    """The first vector of an OpenAI ``/v1/embeddings`` response body."""
    data = json.loads(raw)
    return np.asarray(data["data"][0]["embedding"], dtype=np.float64)
