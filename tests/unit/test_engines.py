"""Which engine a client is built on, and the options it is built with (no network)."""

from __future__ import annotations

import subprocess
import sys

import httpcore
import httpx
import pytest

from hfinfer import AsyncInferenceClient, InferenceClient
from hfinfer._config import ClientConfig
from hfinfer._engines import DEFAULT_LIMITS, async_http_client, sync_http_client

URL = "http://127.0.0.1:8080"


def config(**options: object) -> ClientConfig:
    base: dict[str, object] = {
        "token": False, "api_key": None, "timeout": None, "headers": None, "cookies": None,
        "proxies": None, "base_url": None, "trust_env": True, "max_retries": 0,
    }  # fmt: skip
    base.update(options)
    return ClientConfig.build(URL, **base)  # type: ignore[arg-type]


def test_async_engine_is_aiohttp_unless_asked() -> None:
    assert AsyncInferenceClient(URL, token=False).engine == "aiohttp"
    assert AsyncInferenceClient(URL, token=False, engine="httpx").engine == "httpx"


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="`engine` must be 'aiohttp' or 'httpx'"):
        AsyncInferenceClient(URL, token=False, engine="requests")  # type: ignore[arg-type]


def test_http2_needs_the_httpx_engine() -> None:
    with pytest.raises(ValueError, match=r"http2=True.*engine='httpx'"):
        AsyncInferenceClient(URL, token=False, http2=True)


def test_http2_without_h2_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "h2", None)  # as if h2 were not installed
    with pytest.raises(ImportError, match=r"hfinfer\[http2\]"):
        sync_http_client(config(http2=True))


def test_limits_must_be_httpx_limits() -> None:
    with pytest.raises(ValueError, match=r"`limits` must be an httpx\.Limits"):
        InferenceClient(URL, token=False, limits={"max_connections": 3})  # type: ignore[arg-type]


async def test_aiohttp_engine_gets_the_limits_and_env_setting() -> None:
    from hfinfer._aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=7, keepalive_expiry=2.0)
    async with async_http_client(config(limits=limits, trust_env=False, engine="aiohttp")) as http:
        transport = http._transport
        assert isinstance(transport, AiohttpTransport)
        assert transport._limits is limits and transport._trust_env is False


def test_sync_client_defaults() -> None:
    with sync_http_client(config()) as http:
        assert http.follow_redirects is True
        assert http.trust_env is True
        assert isinstance(http._transport, httpx.HTTPTransport)
    assert DEFAULT_LIMITS.max_connections == 100


def test_a_proxy_dict_entry_of_none_means_direct() -> None:
    with sync_http_client(config(proxies={"http": None, "https": "http://127.0.0.1:3128"})) as http:
        patterns = {str(p.pattern): t for p, t in http._mounts.items()}
        assert isinstance(patterns["http://"]._pool, httpcore.ConnectionPool)
        assert not isinstance(patterns["http://"]._pool, httpcore.HTTPProxy)
        assert isinstance(patterns["https://"]._pool, httpcore.HTTPProxy)


def test_importing_hfinfer_does_not_import_aiohttp() -> None:
    code = "import hfinfer, sys; assert 'aiohttp' not in sys.modules, 'aiohttp imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
