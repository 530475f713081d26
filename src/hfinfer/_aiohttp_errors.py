"""aiohttp's failures in httpx's vocabulary, so the sending loop sees one set of errors.

A server that hangs up is a connection error (retried), a stall is a timeout (not retried), a
response that is not HTTP is a protocol error; an httpx error our own code raised inside aiohttp
(the bounded request body) comes out as itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import NoReturn

import aiohttp
import httpx

# Most specific first: the first class that matches wins.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (asyncio.TimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientConnectionError, httpx.ReadError),
    (aiohttp.ClientError, httpx.ReadError),
    (ValueError, httpx.LocalProtocolError),
)


def _wrapped_httpx_error(exc: BaseException) -> httpx.TransportError | None:
    """An httpx error raised by our own code and wrapped by aiohttp (found in the cause chain)."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, httpx.TransportError):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def translated(exc: Exception, request: httpx.Request) -> Exception:
    """The httpx error an aiohttp failure stands for (`exc` itself when none does)."""
    if isinstance(exc, httpx.HTTPError):
        return exc
    own = _wrapped_httpx_error(exc)
    if own is not None:  # ours (e.g. `_bounded`), wrapped by aiohttp's body writer: keep it
        return type(own)(str(own), request=request)
    for source, target in _ERRORS:
        if isinstance(exc, source):
            return target(str(exc) or type(exc).__name__, request=request)
    return exc


def raise_translated(exc: Exception, request: httpx.Request) -> NoReturn:
    """Raise the httpx error `exc` stands for (chained), or `exc` itself."""
    found = translated(exc, request)
    if found is exc:
        raise exc
    raise found from exc


@contextlib.contextmanager
def mapped(request: httpx.Request) -> Iterator[None]:
    """Translate what the block raises (a response body being read)."""
    try:
        yield
    except Exception as exc:
        raise_translated(exc, request)
