"""Fixtures of the batch suite: a loopback server per test, a clean environment, quick retries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import hfinfer._retry

from .server import BatchServer

_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_INFERENCE_ENDPOINT", "HTTP_PROXY", "HTTPS_PROXY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-such-token-file"))


@pytest.fixture(autouse=True)
def fast_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process retries wait 0 s (subprocess jobs keep the real backoff)."""
    monkeypatch.setattr(hfinfer._retry, "backoff", lambda retry: 0.0)


@pytest.fixture
def server() -> Iterator[BatchServer]:
    srv = BatchServer().start()
    try:
        yield srv
    finally:
        srv.stop()


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    return path


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
