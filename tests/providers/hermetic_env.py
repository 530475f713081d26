"""The environment of the tests that talk HTTP to a server on 127.0.0.1 (tests/loopback/ and
test_jobs_loopback.py here): no proxy, token, Hub endpoint or CA bundle from the developer's
environment (the sync client trusts it), and a token file that does not exist.

`clean_env` is an autouse fixture: a conftest or test module that imports it applies it to every
test it holds. Import it as `tests.providers.hermetic_env`; it imports nothing from any test
package, so any suite may use it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ENV = (
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HOME",
    "HF_INFERENCE_ENDPOINT",
    "HF_ENDPOINT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
"""The variables `clean_env` removes."""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy, token or CA bundle from the developer's environment (the sync client trusts it)."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-such-token-file"))
