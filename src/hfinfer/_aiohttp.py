"""The aiohttp engine: an `httpx.AsyncBaseTransport` over one `aiohttp.ClientSession`.

httpx keeps its API (requests, responses, redirects, cookies, auth, mounts, mocking at the client
level); aiohttp does the HTTP/1.1 work. What the adapter owns is small and exact:

- aiohttp's exceptions become httpx's (`_aiohttp_errors.py`);
- httpx's per-request timeouts become an `aiohttp.ClientTimeout`;
- aiohttp adds nothing of its own to the request (no cookies, no Content-Type guess, no
  decompression: httpx does those) and never follows a redirect (httpx does);
- a streamed request body may not exceed the Content-Length it declared;
- the caller's own `Connection: close` closes the connection after the response;
- the session belongs to one event loop: a client used from a new loop gets a new session;
- `send_bytes` sends a request given as bytes, for the direct route (`_direct.py`).

This module is imported only when an async client first sends, so `import hfinfer` never
imports aiohttp.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import httpx
import yarl

from hfinfer._aiohttp_errors import mapped, raise_translated
from hfinfer._sending import READ_WHOLE

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
"""RFC 9110 §5.6.2: a field name is a token (aiohttp itself refuses only CR, LF and NUL)."""


_GOOD_NAMES: set[str] = set()
_CACHE_SIZE = 256


def check_names(headers: list[tuple[str, str]], request: httpx.Request) -> None:
    for name, _ in headers:
        if name in _GOOD_NAMES:
            continue
        if not _TOKEN.fullmatch(name):
            raise httpx.LocalProtocolError(f"invalid header name {name!r}", request=request)
        if len(_GOOD_NAMES) >= _CACHE_SIZE:
            _GOOD_NAMES.clear()
        _GOOD_NAMES.add(name)


def _codings(response: aiohttp.ClientResponse) -> list[bytes]:
    return [v for k, v in response.raw_headers if k.lower() == b"transfer-encoding"]


def _bad_framing(response: aiohttp.ClientResponse) -> bool:
    """A Transfer-Encoding that is not exactly one `chunked` (repeated, `gzip, chunked`, unknown
    codings): h11 refuses it, llhttp lets it through, and its body cannot be trusted."""
    if "Transfer-Encoding" not in response.headers:
        return False
    codings = _codings(response)
    return bool(codings) and (len(codings) > 1 or codings[0].strip().lower() != b"chunked")


def _check_framing(response: aiohttp.ClientResponse, request: httpx.Request) -> None:
    """Refuse a response of `_bad_framing`, as h11 does."""
    if _bad_framing(response):
        response.close()
        raise httpx.RemoteProtocolError(
            f"unsupported response framing: Transfer-Encoding {_codings(response)!r}",
            request=request,
        )


def _extensions(response: aiohttp.ClientResponse) -> dict[str, Any]:
    extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
    if response.reason:
        extensions["reason_phrase"] = response.reason.encode("ascii", "replace")
    return extensions


def _streamed(response: aiohttp.ClientResponse, request: httpx.Request) -> httpx.Response:
    """The response with its body still to read, as httpx's stream."""
    return httpx.Response(
        status_code=response.status,
        headers=response.raw_headers,
        stream=_ResponseStream(response, request),
        request=request,
        extensions=_extensions(response),
    )


class _ReadResponse(httpx.Response):
    """A response read whole; its request is made when first asked for (httpx itself reads
    `_request`, e.g. in `raise_for_status`: hence a property of that name)."""

    make_request: Callable[[], httpx.Request] | None = None
    _made: httpx.Request | None = None

    @property
    def _request(self) -> httpx.Request | None:
        if self._made is None and self.make_request is not None:
            self._made = self.make_request()
        return self._made

    @_request.setter
    def _request(self, value: httpx.Request | None) -> None:
        self._made = value


async def _read_whole(
    response: aiohttp.ClientResponse, request: Callable[[], httpx.Request]
) -> httpx.Response:
    """Read the whole body at once (the caller reads it all anyway: no stream of chunks)."""
    try:
        content = await response.read()  # frees the connection at the end
    except BaseException as exc:
        response.close()
        if not isinstance(exc, Exception):
            raise
        raise_translated(exc, request())
    result = _ReadResponse(
        status_code=response.status,
        headers=response.raw_headers,
        stream=httpx.ByteStream(content),
        extensions=_extensions(response),
    )
    result.make_request = request
    if "content-encoding" not in result.headers:
        # What `aread()` would make of it (no decoding to do), without the chunk machinery.
        result._content = content
        result.is_stream_consumed = True
    return result


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's connect/read/pool timeouts as aiohttp's.

    aiohttp has no write timeout; so that an upload to a server that stops reading cannot hang,
    a request whose whole answer is read at once is also bounded as a whole, by the read timeout.
    """
    timeout = request.extensions.get("timeout") or {}
    whole = bool(request.extensions.get(READ_WHOLE))
    return _client_timeout(whole, timeout.get("read"), timeout.get("pool"), timeout.get("connect"))


def _client_timeout(
    whole: bool, read: float | None, pool: float | None, connect: float | None
) -> aiohttp.ClientTimeout:
    key = (whole, read, pool, connect)
    found = _TIMEOUTS.get(key)
    if found is None:
        if len(_TIMEOUTS) >= _CACHE_SIZE:
            _TIMEOUTS.clear()
        found = _TIMEOUTS[key] = aiohttp.ClientTimeout(
            total=read if whole else None, connect=pool, sock_connect=connect, sock_read=read
        )
    return found


_TIMEOUTS: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
_URLS: dict[str, yarl.URL] = {}


def _yarl(url: httpx.URL | str) -> yarl.URL:
    """aiohttp's URL for httpx's (already encoded), kept for the URLs a process calls again."""
    text = str(url)
    found = _URLS.get(text)
    if found is None:
        if len(_URLS) >= _CACHE_SIZE:
            _URLS.clear()
        found = _URLS[text] = yarl.URL(text, encoded=True)
    return found


async def _bounded(
    stream: httpx.AsyncByteStream | Any, declared: int | None, request: httpx.Request
) -> AsyncIterator[bytes]:
    """The request body, refusing to send a byte beyond its declared Content-Length."""
    sent = 0
    async for chunk in stream:
        sent += len(chunk)
        if declared is not None and sent > declared:
            raise httpx.LocalProtocolError(
                f"request body is longer than its Content-Length ({declared})", request=request
            )
        yield chunk
    if declared is not None and sent < declared:
        raise httpx.LocalProtocolError(
            f"request body is shorter than its Content-Length ({sent} < {declared})",
            request=request,
        )


class _ResponseStream(httpx.AsyncByteStream):
    """An aiohttp response body as httpx's; closing frees (or drops) the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with mapped(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        response = self._response
        if response.content.at_eof():
            response.release()  # read to the end: the connection is reused
        else:
            response.close()  # stopped early: the connection cannot be reused
            await asyncio.sleep(0)  # let asyncio close the socket before we return


class _Request(aiohttp.ClientRequest):
    """aiohttp's request, honouring the caller's own `Connection: close` (aiohttp sends the
    header but would reuse the connection unless the server closes it or says so)."""

    async def send(self, conn: Any) -> aiohttp.ClientResponse:
        value = self.headers.get("Connection", "")
        if "close" in value.lower() and any(
            token.strip().lower() == "close" for token in value.split(",")
        ):
            protocol = conn.protocol
            if protocol is not None:
                protocol.force_close()
        return await super().send(conn)


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests with aiohttp (HTTP/1.1, keep-alive pool, optional proxy)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        trust_env: bool,
        proxy: httpx.Proxy | None = None,
    ) -> None:
        self._ssl = ssl_context
        self._limits = limits
        self._trust_env = trust_env
        self._proxy = proxy
        self._proxy_args: dict[str, Any] = {
            "proxy": str(proxy.url) if proxy else None,
            "proxy_auth": aiohttp.BasicAuth(*proxy.auth) if proxy and proxy.auth else None,
            "proxy_headers": dict(proxy.headers) if proxy else None,
        }
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _session_here(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry or 0,
                ssl=self._ssl,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._trust_env,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("Content-Type", "User-Agent", "Accept", "Accept-Encoding"),
                timeout=aiohttp.ClientTimeout(total=None),
                request_class=_Request,
            )
            # aiohttp resends an idempotent request once, by itself, when a kept-alive
            # connection fails; hfinfer's `max_retries` is the one place that decides resends
            # (the same on every engine). No public option exists: the attribute is aiohttp's.
            self._session._retry_connection = False
            self._loop = loop
        return self._session

    def _body(self, request: httpx.Request, headers: list[tuple[str, str]]) -> Any:
        try:
            content = request.content
        except httpx.RequestNotRead:
            declared = request.headers.get("content-length")
            # aiohttp frames a body of unknown length itself (chunked): drop httpx's header.
            headers[:] = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
            limit = int(declared) if declared and declared.isdigit() else None
            return _bounded(request.stream, limit, request)
        return content or None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._session_here()
        headers = request.headers.multi_items()
        check_names(headers, request)
        try:
            body = self._body(request, headers)
            response = await session.request(
                request.method,
                _yarl(request.url),
                headers=headers,
                data=body,
                allow_redirects=False,
                compress=None,
                timeout=_timeout(request),
                server_hostname=request.extensions.get("sni_hostname"),
                **self._proxy_args,
            )
        except Exception as exc:
            raise_translated(exc, request)
        _check_framing(response, request)
        if request.extensions.get(READ_WHOLE) and 200 <= response.status < 300:
            return await _read_whole(response, lambda: request)
        return _streamed(response, request)

    def check_headers(self, headers: list[tuple[str, str]], request: httpx.Request) -> None:
        """Refuse a header name that is not a token, as h11 does (for `send_bytes`)."""
        check_names(headers, request)

    async def send_bytes(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes | None,
        timeout: float | None,
        request: Callable[[], httpx.Request],
    ) -> httpx.Response:
        """Send a request given as bytes, with httpx's timeout semantics, for the direct route.

        A 2xx answer is read whole and its httpx request is made only if asked for; any other
        answer comes back streamed, as from `handle_async_request`. `headers` passed
        `check_headers`.
        """
        session = self._session_here()
        started = time.perf_counter()
        try:
            response = await session.request(
                method,
                _yarl(url),
                headers=headers,
                data=content,
                allow_redirects=False,
                compress=None,
                timeout=_client_timeout(True, timeout, timeout, timeout),
                **self._proxy_args,
            )
        except Exception as exc:
            raise_translated(exc, request())
        if not 200 <= response.status < 300 or _bad_framing(response):
            made = request()
            _check_framing(response, made)
            streamed = _streamed(response, made)
            streamed.elapsed = timedelta(seconds=time.perf_counter() - started)  # to the head
            return streamed
        answer = await _read_whole(response, request)
        answer.elapsed = timedelta(seconds=time.perf_counter() - started)
        return answer

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is None or session.closed:
            return
        if self._loop is asyncio.get_running_loop():
            await session.close()
            await asyncio.sleep(0)  # asyncio closes sockets on the next turn of the loop
        # A session opened on another loop cannot be awaited from here: its sockets close with it.
