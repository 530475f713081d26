"""Fixtures of the Inference Provider contract tests: a clean environment, an empty mapping cache,
and a respx router that lets nothing through."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from hfinfer import _hub


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No endpoint override and no implicit token: a bare model id goes to the providers."""
    for name in (
        "HF_INFERENCE_ENDPOINT",
        "HF_ENDPOINT",
        "HUGGINGFACE_CO_STAGING",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    _hub.clear_mappings()
    yield
    _hub.clear_mappings()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router
