"""Fixtures shared by the respx contract tests (helpers live in contract_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults the contract is written against: no endpoint override, no implicit token."""
    for name in (
        "HF_INFERENCE_ENDPOINT",
        "HF_ENDPOINT",
        "HUGGINGFACE_CO_STAGING",
        "HF_TOKEN",
        "HUGGING_FACE_HUB_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    # The endpoint routing these contracts are written against: with HF_INFERENCE_ENDPOINT set,
    # provider=None keeps it byte for byte (without it, a model id goes through Inference
    # Providers, "auto" as in huggingface_hub 2.4.0: tests/providers).
    monkeypatch.setenv("HF_INFERENCE_ENDPOINT", "https://api-inference.huggingface.co")


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    """A respx router that lets nothing through to the network."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router
