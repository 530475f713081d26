"""Where a request goes: model ids, endpoint URLs and `base_url` → request URL. Pure functions."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from hfinfer._config import ClientConfig

CHAT_SUFFIX = "/chat/completions"
# `post(task=...)`: the reference's raw-request rules, which know tasks only by name.
PIPELINE_TASKS = frozenset({"feature-extraction", "sentence-similarity"})
IMAGE_OUTPUT_TASKS = frozenset({"text-to-image", "image-to-image"})
_HF_SUFFIXES = (".huggingface.co", ".hf.space", ".huggingface.cloud")


def is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def task_url(config: ClientConfig, model: str, task: str, route: str) -> str:
    """URL of a task request for a model id or URL (a URL is used verbatim)."""
    if is_url(model):
        return model
    if route == "pipeline":
        return f"{config.inference_endpoint}/pipeline/{task}/{model}"
    return f"{config.inference_endpoint}/models/{model}"


def chat_candidate(config: ClientConfig, model: str | None) -> str | None:
    """The server for chat: the client's `base_url` or `model` win over the call's `model`,
    as in the OpenAI client, where `model` in the call names the model, not the server."""
    return config.base_url or config.model or model


def chat_url(config: ClientConfig, candidate: str) -> str:
    """`…` → `…/v1/chat/completions`; `…/v1` → `…/v1/chat/completions`; the query string survives."""
    base = candidate if is_url(candidate) else f"{config.inference_endpoint}/models/{candidate}"
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path += CHAT_SUFFIX
    elif not path.endswith(CHAT_SUFFIX):
        path += "/v1" + CHAT_SUFFIX
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def chat_model_name(config: ClientConfig, model: str | None) -> str:
    """The `model` field of a chat body: the call's or client's model id, else `tgi`."""
    name = model or config.model or "tgi"
    return "tgi" if is_url(name) else name


def is_hf_host(url: str, config: ClientConfig) -> bool:
    """Whether an implicit token (environment or token file) may be sent to this URL."""
    if url.startswith(config.inference_endpoint + "/") or url == config.inference_endpoint:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return host in ("huggingface.co", "hf.co") or host.endswith(_HF_SUFFIXES)


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
