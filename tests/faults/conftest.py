"""Fixtures of the fault suite: a fault server per test, a clean environment, immediate retries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import hfinfer._retry

from .faultserver import FaultServer

_ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "HF_INFERENCE_ENDPOINT",
    "HF_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-such-token-file"))


@pytest.fixture(autouse=True)
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries are immediate (backoff 0 s) and model-loading waits are capped at 10 ms."""
    monkeypatch.setattr(hfinfer._retry, "backoff", lambda retry: 0.0)
    monkeypatch.setattr(hfinfer._retry, "MAX_LOADING_WAIT", 0.01)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv
    assert srv.errors == [], "the fault server itself failed"
