"""Fixtures for the tests against real inference servers (marker ``realserver``).

Every test in this folder gets ``pytest.mark.realserver``; the default ``addopts`` deselect
them, ``nox -s integration`` runs ``pytest -m realserver tests/realservers``.

The set-up (venv, llama-server build, GGUF models; minutes when cold, under a second when
warm) runs once in ``pytest_collection_finish`` when any realserver test is selected, so it is
not counted against the per-test timeout. The servers are session-scoped and stopped at the
end of the session (and at interpreter exit, whatever happens).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the helpers below live beside this file
    sys.path.insert(0, str(HERE))

from rs_util import REFERENCE_TEXTS, SIMILARITY_CASES, FloatArray  # noqa: E402
from servers import (  # noqa: E402
    RunningServer,
    start_llama_chat_server,
    start_llama_embedding_server,
    start_pipeline_server,
)
from setup_servers import OFFLINE_ENV, Paths, ensure_setup  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Reference:
    """Results computed by sentence-transformers itself, in the server venv."""

    embeddings: dict[str, FloatArray]
    similarity: dict[tuple[str, tuple[str, ...]], list[float]]

    def embedding(self, text: str) -> FloatArray:
        return self.embeddings[text]


def _in_this_folder(item: pytest.Item) -> bool:
    return Path(str(item.path)).resolve().is_relative_to(HERE)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the marker must be there before ``-m`` deselects by it.
    for item in items:
        if _in_this_folder(item):
            item.add_marker(pytest.mark.realserver)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any(_in_this_folder(item) for item in session.items):
        ensure_setup()


@pytest.fixture(scope="session")
def realserver_paths() -> Paths:
    return ensure_setup(verbose=False)


def _serve(server: RunningServer) -> Iterator[RunningServer]:
    print(f"\n[realservers] {server.name} ready in {server.ready_seconds:.1f} s at {server.url}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pipeline_server(realserver_paths: Paths) -> Iterator[RunningServer]:
    """api-inference-community app: ``POST url`` (TASK=feature-extraction), ``/pipeline/{task}``."""
    yield from _serve(start_pipeline_server(realserver_paths))


@pytest.fixture(scope="session")
def llama_chat_server(realserver_paths: Paths) -> Iterator[RunningServer]:
    """llama-server with the tiny random Llama: OpenAI chat completions."""
    yield from _serve(start_llama_chat_server(realserver_paths))


@pytest.fixture(scope="session")
def llama_embed_server(realserver_paths: Paths) -> Iterator[RunningServer]:
    """llama-server with all-MiniLM-L6-v2: OpenAI ``/v1/embeddings``."""
    yield from _serve(start_llama_embedding_server(realserver_paths))


@pytest.fixture(scope="session")
def reference(realserver_paths: Paths) -> Reference:
    """sentence-transformers' own embeddings and similarities (one subprocess per session)."""
    request = {
        "texts": list(REFERENCE_TEXTS),
        "similarity": [[src, list(cands)] for src, cands in SIMILARITY_CASES],
    }
    proc = subprocess.run(
        [str(realserver_paths.python), str(HERE / "st_reference.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE_ENV},
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"st_reference.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    data = json.loads(proc.stdout)
    embeddings = {t: np.asarray(v, dtype=np.float64) for t, v in data["embeddings"].items()}
    similarity = {
        case: list(scores)
        for case, scores in zip(SIMILARITY_CASES, data["similarity"], strict=True)
    }
    return Reference(embeddings=embeddings, similarity=similarity)
