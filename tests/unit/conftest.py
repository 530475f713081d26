"""Shared fixtures for the runtime unit tests: a clean environment and fast retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import hfinfer._client
import hfinfer._retry

_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN",
    "HF_INFERENCE_ENDPOINT",
    "HF_ENDPOINT",
    "HUGGINGFACE_CO_STAGING",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No token or endpoint leaks in from the machine: the token file points nowhere."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-such-token-file"))


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen immediately (the backoff helper returns 0 seconds)."""
    monkeypatch.setattr(hfinfer._retry, "backoff", lambda retry: 0.0)


@pytest.fixture
def recommended_cache() -> Iterator[dict[str, object]]:
    """The process-wide `/api/tasks` cache, empty before and after the test."""
    cache = hfinfer._hub.RECOMMENDED_TASKS
    cache.clear()
    yield cache
    cache.clear()
