"""Building the httpx client a hfinfer client sends with, on a well-kept engine.

- sync: httpx's own transport (httpcore + h11; HTTP/2 with `http2=True` and the `h2` package);
- async: aiohttp beneath httpx's API (`engine="aiohttp"`, the default) or httpx's own
  (`engine="httpx"`, which also speaks HTTP/2).

Both honour the environment as httpx and aiohttp do when `trust_env` is true: `HTTP_PROXY`,
`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, `SSL_CERT_FILE`, `SSL_CERT_DIR`. Explicit `proxies=` win.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeGuard, TypeVar

import httpx

from hfinfer._config import ClientConfig

if TYPE_CHECKING:
    from hfinfer._direct import DirectRoute

Engine = Literal["aiohttp", "httpx"]
ENGINES: tuple[Engine, ...] = ("aiohttp", "httpx")
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=5.0
)
MAX_REDIRECTS = 10
T = TypeVar("T")
C = TypeVar("C", "_Client", "_AsyncClient")


class _Cookies(httpx.Cookies):
    """A client's cookie jar that skips the (costly) cookie parsing when none is set."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


class _SetCookieOnly:
    """Mixed into httpx's clients: a reply without Set-Cookie costs no cookie work."""

    def __init__(self, *, cookies: Any = None, **kwargs: Any) -> None:
        self._jar = _Cookies(cookies)
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


class _Client(_SetCookieOnly, httpx.Client):
    pass


class _AsyncClient(_SetCookieOnly, httpx.AsyncClient):
    """httpx's async client, with the direct routes it found per URL (`_direct.py`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.direct_routes: dict[str, tuple[Any, DirectRoute | None]] = {}
        """URL → (httpx's transport finder when looked up, the direct route or None)."""


def is_own_async(client: httpx.AsyncClient) -> TypeGuard[_AsyncClient]:
    """True for an async client hfinfer built (never a user's own `http_client`)."""
    return isinstance(client, _AsyncClient)


def ssl_context(trust_env: bool) -> ssl.SSLContext:
    """Certificates from certifi, or `SSL_CERT_FILE` / `SSL_CERT_DIR` when trusting the env."""
    return httpx.create_ssl_context(trust_env=trust_env)


def _options(config: ClientConfig) -> dict[str, Any]:
    """What every flavour of httpx client is built with.

    Redirects are followed; httpx drops `Authorization` when one leads to another origin (an
    http → https upgrade of the same host aside), so a token never follows a redirect elsewhere.
    """
    return {
        "cookies": dict(config.cookies or {}),
        "trust_env": config.trust_env,
        "follow_redirects": True,
        "max_redirects": MAX_REDIRECTS,
        "timeout": httpx.Timeout(config.timeout),
    }


def _check_http2(config: ClientConfig) -> None:
    if not config.http2:
        return
    try:
        import h2  # noqa: F401
    except ImportError:
        raise ImportError(
            "http2=True needs the `h2` package: pip install 'hfinfer[http2]'"
        ) from None


def sync_http_client(config: ClientConfig) -> httpx.Client:
    """The httpx client an `InferenceClient` creates: httpx's own transport, env proxies honoured."""
    return _on_httpx(config, _Client, httpx.HTTPTransport)


def async_http_client(config: ClientConfig) -> httpx.AsyncClient:
    """The httpx client an `AsyncInferenceClient` creates, on the engine its config names."""
    if config.engine == "httpx":
        return _on_httpx(config, _AsyncClient, httpx.AsyncHTTPTransport)
    from hfinfer._aiohttp import AiohttpTransport  # aiohttp is imported when first needed

    verify = ssl_context(config.trust_env)
    limits = config.limits or DEFAULT_LIMITS

    def transport(proxy: httpx.Proxy | None) -> AiohttpTransport:
        return AiohttpTransport(
            ssl_context=verify, limits=limits, trust_env=config.trust_env, proxy=proxy
        )

    return _AsyncClient(
        transport=transport(None),
        mounts=_proxy_mounts(config.proxies, transport),
        **_options(config),
    )


def _on_httpx(config: ClientConfig, client: type[C], transport: Callable[..., Any]) -> C:
    """An httpx client (sync or async) on httpx's own transport; proxies mounted on the same."""
    _check_http2(config)
    options = {
        "verify": ssl_context(config.trust_env),
        "http2": config.http2,
        "limits": config.limits or DEFAULT_LIMITS,
    }
    mounts = _proxy_mounts(
        config.proxies,
        lambda proxy: transport(proxy=proxy, trust_env=config.trust_env, **options),
    )
    return client(mounts=mounts, **options, **_options(config))


def _proxy_mounts(proxies: Any, make: Callable[[httpx.Proxy | None], T]) -> dict[str, T] | None:
    """`proxies` as a URL or a requests-style dict ({"https": url}) → httpx mounts.

    A dict value of None means "no proxy for this scheme" (a direct transport).
    """
    if not proxies:
        return None
    if isinstance(proxies, (str, httpx.URL, httpx.Proxy)):
        # Also on "http://" and "https://": httpx prefers a scheme's mount to "all://", and with
        # trust_env it mounts HTTP(S)_PROXY there, which would otherwise win over this one.
        transport = make(_proxy(proxies))
        return {"all://": transport, "http://": transport, "https://": transport}
    if isinstance(proxies, Mapping):
        mounts: dict[str, T] = {}
        for key, url in proxies.items():
            pattern = key if "://" in key else f"{key}://"
            mounts[pattern] = make(None if url is None else _proxy(url))
        return mounts
    raise TypeError("`proxies` must be a proxy URL or a dict like {'https': 'http://proxy:3128'}")


def _proxy(value: str | httpx.URL | httpx.Proxy) -> httpx.Proxy:
    return value if isinstance(value, httpx.Proxy) else httpx.Proxy(value)
