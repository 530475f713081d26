"""Client configuration: token resolution, endpoints and default headers, read at construction."""

from __future__ import annotations

import os
import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from hfinfer._version import __version__
from hfinfer.errors import LocalTokenNotFoundError

DEFAULT_INFERENCE_ENDPOINT = "https://api-inference.huggingface.co"
DEFAULT_HUB_ENDPOINT = "https://huggingface.co"
STAGING_HUB_ENDPOINT = "https://hub-ci.huggingface.co"
_TRUE = {"1", "ON", "YES", "TRUE"}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").upper() in _TRUE


def inference_endpoint() -> str:
    return os.environ.get("HF_INFERENCE_ENDPOINT") or DEFAULT_INFERENCE_ENDPOINT


def hub_endpoint() -> str:
    default = STAGING_HUB_ENDPOINT if env_flag("HUGGINGFACE_CO_STAGING") else DEFAULT_HUB_ENDPOINT
    return (os.environ.get("HF_ENDPOINT") or default).rstrip("/")


def token_path() -> Path:
    if os.environ.get("HF_TOKEN_PATH"):
        return Path(os.environ["HF_TOKEN_PATH"]).expanduser()
    hf_home = os.environ.get("HF_HOME")
    if not hf_home:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        hf_home = os.path.join(cache, "huggingface")
    return Path(hf_home).expanduser() / "token"


def _clean(token: str | None) -> str | None:
    if token is None:
        return None
    token = token.replace("\r", "").replace("\n", "").strip()
    return token or None


def saved_token() -> str | None:
    """The token from the environment (`HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN`) or the token file."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        token = _clean(os.environ.get(name))
        if token:
            return token
    try:
        return _clean(token_path().read_text(encoding="utf-8"))
    except OSError:
        return None


class Token(NamedTuple):
    """A resolved token and whether the user gave it explicitly (which decides where it may go)."""

    value: str | None
    explicit: bool

    def __repr__(self) -> str:
        return f"Token(value={'***' if self.value else None}, explicit={self.explicit})"


def resolve_token(token: str | bool | None, api_key: str | None) -> Token:
    if token is not None and api_key is not None:
        raise ValueError(
            "Received both `token` and `api_key` arguments. Please provide only one of them."
        )
    if api_key is not None:
        token = api_key
    if token is False:
        return Token(None, explicit=True)
    if isinstance(token, str):
        return Token(_clean(token), explicit=True)
    if token is True:
        value = saved_token()
        if value is None:
            raise LocalTokenNotFoundError(
                "token=True but no token is saved: set HF_TOKEN or log in."
            )
        return Token(value, explicit=True)
    if token is not None:
        raise TypeError(f"`token` must be a str, a bool or None, got {type(token).__name__}")
    if env_flag("HF_HUB_DISABLE_IMPLICIT_TOKEN"):
        return Token(None, explicit=False)
    return Token(saved_token(), explicit=False)


def user_agent() -> str:
    return f"hfinfer/{__version__}; python/{platform.python_version()}; httpx/{httpx.__version__}"


class ClientConfig(NamedTuple):
    """Everything a client was built with, fixed at construction (environment included)."""

    model: str | None
    base_url: str | None
    token: Token
    timeout: float | None
    headers: Mapping[str, str]
    cookies: Mapping[str, str] | None
    proxies: Any
    trust_env: bool
    inference_endpoint: str
    hub_endpoint: str
    max_retries: int
    max_retry_wait: float = 60.0
    http2: bool = False
    limits: httpx.Limits | None = None
    engine: str = "httpx"
    """The async engine: "aiohttp" or "httpx" (the sync client always uses httpx's own)."""
    provider: str | None = None
    """An Inference Provider name, "auto", or None (see `_providers`)."""
    endpoint_set: bool = False
    """Whether `HF_INFERENCE_ENDPOINT` was set: then provider=None keeps the endpoint routing."""

    @classmethod
    def build(
        cls,
        model: str | None,
        *,
        token: str | bool | None,
        api_key: str | None,
        timeout: float | None,
        headers: Mapping[str, str] | None,
        cookies: Mapping[str, str] | None,
        proxies: Any,
        base_url: str | None,
        trust_env: bool,
        max_retries: int,
        max_retry_wait: float = 60.0,
        http2: bool = False,
        limits: httpx.Limits | None = None,
        engine: str = "httpx",
        provider: str | None = None,
        bill_to: str | None = None,
    ) -> ClientConfig:
        if model is not None and base_url is not None:
            raise ValueError(
                "Received both `model` and `base_url` arguments. Please provide only one of them: "
                "`base_url` is an alias of `model` for compatibility with the OpenAI client."
            )
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ValueError(
                f"`timeout` must be a positive number of seconds or None, got {timeout!r}"
            )
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"`max_retries` must be an integer >= 0, got {max_retries!r}")
        if (
            not isinstance(max_retry_wait, (int, float))
            or isinstance(max_retry_wait, bool)
            or not max_retry_wait >= 0
        ):
            raise ValueError(
                f"`max_retry_wait` must be a number of seconds >= 0, got {max_retry_wait!r}"
            )
        if engine not in ("aiohttp", "httpx"):
            raise ValueError(f"`engine` must be 'aiohttp' or 'httpx', got {engine!r}")
        if http2 and engine != "httpx":
            raise ValueError("`http2=True` needs engine='httpx': aiohttp speaks HTTP/1.1 only")
        if limits is not None and not isinstance(limits, httpx.Limits):
            raise ValueError(f"`limits` must be an httpx.Limits, got {type(limits).__name__}")
        merged = httpx.Headers({"user-agent": user_agent()})
        merged.update(dict(headers or {}))
        resolved = resolve_token(token, api_key)
        if bill_to is not None:
            _bill_to(merged, bill_to, resolved)
        return cls(
            model=model,
            base_url=base_url,
            token=resolved,
            timeout=float(timeout) if timeout is not None else None,
            headers=merged,
            cookies=dict(cookies) if cookies else None,
            proxies=proxies,
            trust_env=trust_env,
            inference_endpoint=inference_endpoint().rstrip("/"),
            hub_endpoint=hub_endpoint(),
            max_retries=max_retries,
            max_retry_wait=float(max_retry_wait),
            http2=bool(http2),
            limits=limits,
            engine=engine,
            provider=provider,
            endpoint_set=bool(os.environ.get("HF_INFERENCE_ENDPOINT")),
        )


BILL_TO_HEADER = "X-HF-Bill-To"


def _bill_to(headers: httpx.Headers, bill_to: str, token: Token) -> None:
    """`bill_to=`: the X-HF-Bill-To header, sent with every request (as the reference does)."""
    if not isinstance(bill_to, str) or not bill_to.strip():
        from hfinfer.errors import InferenceInputError

        raise InferenceInputError("client", "bill_to", f"must be a non-empty str, got {bill_to!r}")
    if token.explicit and token.value and not token.value.startswith("hf_"):
        warnings.warn(
            "You've provided an external provider's API key, so requests will be billed "
            "directly by the provider. The `bill_to` parameter will be ignored.",
            UserWarning,
            stacklevel=4,
        )
    previous = headers.get(BILL_TO_HEADER)
    if previous is not None and previous != bill_to:
        warnings.warn(
            f"Overriding existing '{previous}' value in headers with '{bill_to}'.",
            UserWarning,
            stacklevel=4,
        )
    headers[BILL_TO_HEADER] = bill_to
