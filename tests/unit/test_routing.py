"""hfinfer._routing: where a request goes (pure functions over a ClientConfig)."""

from __future__ import annotations

import pytest

from hfinfer import _routing
from hfinfer._config import ClientConfig

IE = "https://api-inference.huggingface.co"


def config(
    model: str | None = None, *, base_url: str | None = None, endpoint: str | None = None
) -> ClientConfig:
    cfg = ClientConfig.build(
        model, token=False, api_key=None, timeout=None, headers=None, cookies=None,
        proxies=None, base_url=base_url, trust_env=False, max_retries=0,
    )  # fmt: skip
    return cfg if endpoint is None else _with_endpoint(cfg, endpoint)


def _with_endpoint(cfg: ClientConfig, endpoint: str) -> ClientConfig:
    return cfg._replace(inference_endpoint=endpoint)


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("meta-llama/X", f"{IE}/models/meta-llama/X/v1/chat/completions"),
        ("gpt2", f"{IE}/models/gpt2/v1/chat/completions"),
        ("http://h:8080", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/v1", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/v1/", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/v1/chat/completions", "http://h:8080/v1/chat/completions"),
        ("http://h:8080/v1/chat/completions/", "http://h:8080/v1/chat/completions"),
        ("https://x.huggingface.cloud", "https://x.huggingface.cloud/v1/chat/completions"),
        ("http://h/openai/deployments/d", "http://h/openai/deployments/d/v1/chat/completions"),
        ("http://h/api/v1", "http://h/api/v1/chat/completions"),
        # Query strings survive (documented quirk fix).
        ("http://h:8080?api-version=2", "http://h:8080/v1/chat/completions?api-version=2"),
        ("http://h:8080/v1?api-version=2", "http://h:8080/v1/chat/completions?api-version=2"),
        ("http://h:8080/v1/?a=1&b=2", "http://h:8080/v1/chat/completions?a=1&b=2"),
        (
            "http://h:8080/v1/chat/completions?key=k",
            "http://h:8080/v1/chat/completions?key=k",
        ),
    ],
)  # fmt: skip
def test_chat_url(candidate: str, expected: str) -> None:
    assert _routing.chat_url(config(), candidate) == expected


def test_chat_url_uses_configured_inference_endpoint() -> None:
    cfg = config(endpoint="http://127.0.0.1:5000")
    assert (
        _routing.chat_url(cfg, "org/m") == "http://127.0.0.1:5000/models/org/m/v1/chat/completions"
    )


def test_inference_endpoint_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_INFERENCE_ENDPOINT", "http://127.0.0.1:5000/")
    cfg = config()
    assert cfg.inference_endpoint == "http://127.0.0.1:5000"
    assert (
        _routing.task_url(cfg, "org/m", "fill-mask", "task") == "http://127.0.0.1:5000/models/org/m"
    )


@pytest.mark.parametrize(
    ("model", "task", "route", "expected"),
    [
        ("org/m", "text-classification", "task", f"{IE}/models/org/m"),
        ("gpt2", "text-generation", "task", f"{IE}/models/gpt2"),
        ("org/m", "feature-extraction", "pipeline", f"{IE}/pipeline/feature-extraction/org/m"),
        ("org/m", "sentence-similarity", "pipeline", f"{IE}/pipeline/sentence-similarity/org/m"),
        # URLs are used verbatim, whatever the route.
        ("http://127.0.0.1:8080", "fill-mask", "task", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "fill-mask", "task", "http://127.0.0.1:8080/"),
        ("https://h/embed?x=1", "feature-extraction", "pipeline", "https://h/embed?x=1"),
    ],
)
def test_task_url(model: str, task: str, route: str, expected: str) -> None:
    assert _routing.task_url(config(), model, task, route) == expected


@pytest.mark.parametrize(
    ("client_model", "base_url", "call_model", "expected"),
    [
        (None, None, "org/call", "org/call"),
        ("org/client", None, "org/call", "org/client"),  # the client's model wins for chat
        (None, "http://h/v1", "org/call", "http://h/v1"),  # base_url wins too
        (None, None, None, None),
    ],
)
def test_chat_candidate(
    client_model: str | None, base_url: str | None, call_model: str | None, expected: str | None
) -> None:
    assert _routing.chat_candidate(config(client_model, base_url=base_url), call_model) == expected


@pytest.mark.parametrize(
    ("client_model", "call_model", "expected"),
    [
        (None, None, "tgi"),
        (None, "org/call", "org/call"),
        ("org/client", None, "org/client"),
        ("org/client", "org/call", "org/call"),
        ("http://127.0.0.1:8080", None, "tgi"),  # a URL is not a model name
        (None, "https://h/v1", "tgi"),
        ("http://127.0.0.1:8080", "org/call", "org/call"),
    ],
)
def test_chat_model_name(client_model: str | None, call_model: str | None, expected: str) -> None:
    assert _routing.chat_model_name(config(client_model), call_model) == expected


def test_chat_model_name_with_base_url() -> None:
    assert _routing.chat_model_name(config(base_url="http://h/v1"), None) == "tgi"
    assert _routing.chat_model_name(config(base_url="http://h/v1"), "org/m") == "org/m"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (IE, True),
        (f"{IE}/models/gpt2", True),
        ("https://huggingface.co/api/tasks", True),
        ("https://hf.co/x", True),
        ("https://x.endpoints.huggingface.cloud/v1", True),
        ("https://space.hf.space/run", True),
        ("https://router.huggingface.co/v1", True),
        ("http://127.0.0.1:8080", False),
        ("https://example.com/models/gpt2", False),
        ("https://huggingface.co.evil.com/", False),
        ("https://evilhuggingface.co/", False),
        (IE + ".evil.com/models/x", False),
    ],
)
def test_is_hf_host(url: str, expected: bool) -> None:
    assert _routing.is_hf_host(url, config()) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.5.5.5", True),
        ("http://localhost:1/x", True),
        ("http://[::1]:80/", True),
        ("http://10.0.0.1", False),
        ("https://example.com", False),
    ],
)
def test_is_loopback(url: str, expected: bool) -> None:
    assert _routing.is_loopback(url) is expected


def test_is_url() -> None:
    assert _routing.is_url("http://x")
    assert _routing.is_url("https://x")
    assert not _routing.is_url("org/model")
    assert not _routing.is_url("ftp://x")
