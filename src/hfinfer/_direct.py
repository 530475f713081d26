"""The direct route: a plain call on hfinfer's own aiohttp engine, without httpx's models.

For a small JSON call, httpx's request and response objects, its header merging and its send
layers cost about as much CPU as aiohttp's whole request (bench/batch_bench.py, py-spy), which
bounds a batch job on one core. So when httpx would send a request unchanged to hfinfer's
`AiohttpTransport`, the same request goes to the transport as bytes:

- the client is one hfinfer built (never a user's `http_client`), open, following redirects,
  with no event hook, auth, cookie or query parameter set (hfinfer's URLs are absolute: a base
  URL plays no part), and its `send` and transport finder are httpx's own (not a mock's);
- the transport httpx picks for the URL is an `AiohttpTransport` (a `BytesTransport`), so a
  mock at the client level (respx's included) or a user's own mount keeps httpx's path; proxies
  are the transport's own;
- the caller reads the whole answer (not a stream).

The request sent is the one httpx would send: the client's headers merged with the call's by
httpx's own `Headers`, a JSON body encoded as httpx encodes it. What comes back is an
`httpx.Response` as before (its request made only if asked for); an answer that is not 2xx comes
back streamed as on httpx's path; a redirect is followed by httpx (its next request built by
httpx's own rules: method, body, `Authorization` dropped for another origin; that first hop is
not in `response.history`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx

from hfinfer._encoding import Body
from hfinfer._engines import is_own_async
from hfinfer._sending import READ_WHOLE

_httpx_logger = logging.getLogger("httpx")
_CACHE_SIZE = 64


@runtime_checkable
class BytesTransport(Protocol):
    """A transport that also sends a request given as bytes (hfinfer's `AiohttpTransport`)."""

    def check_headers(self, headers: list[tuple[str, str]], request: httpx.Request) -> None: ...

    async def send_bytes(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        content: bytes | None,
        timeout: float | None,
        request: Callable[[], httpx.Request],
    ) -> httpx.Response: ...


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_json(value: Any) -> bytes:
    """A JSON body as httpx encodes `json=` (compact, UTF-8, NaN refused)."""
    return _JSON.encode(value).encode()


class DirectRoute:
    """How one URL is sent directly by one client: its transport and merged headers."""

    def __init__(self, client: httpx.AsyncClient, transport: BytesTransport, url: str) -> None:
        self._client = client
        self._transport = transport
        self._url = str(httpx.URL(url))  # as httpx would send it
        self._merged: dict[tuple[Any, ...], list[tuple[str, str]]] = {}

    def _headers(self, headers: Mapping[str, str], json_body: bool) -> list[tuple[str, str]]:
        """The client's headers updated with the call's, as httpx merges them (checked once)."""
        client_headers = self._client.headers
        key = (tuple(client_headers.raw), tuple(headers.items()), json_body)
        found = self._merged.get(key)
        if found is None:
            merged = httpx.Headers(client_headers)
            merged.update(headers)
            if json_body:
                merged.setdefault("Content-Type", "application/json")
            found = merged.multi_items()
            request = httpx.Request("POST", self._url, headers=found)
            self._transport.check_headers(found, request)
            if len(self._merged) >= _CACHE_SIZE:
                self._merged.clear()
            self._merged[key] = found
        return found

    async def send(
        self, method: str, headers: Mapping[str, str], body: Body, timeout: float | None
    ) -> httpx.Response:
        """Send once (a redirect is followed by httpx); the answer as an `httpx.Response`."""
        json_body = body.content is None and body.json is not None
        content = encode_json(body.json) if json_body else body.content
        merged = self._headers(headers, json_body)
        url = self._url

        def request() -> httpx.Request:
            return httpx.Request(
                method,
                url,
                headers=merged,
                content=content,
                extensions={"timeout": httpx.Timeout(timeout).as_dict(), READ_WHOLE: True},
            )

        response = await self._transport.send_bytes(method, url, merged, content, timeout, request)
        client = self._client
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            client.cookies.extract_cookies(response)
        if response.has_redirect_location:  # httpx builds the next request by its rules
            await response.aclose()
            follow = client._build_redirect_request(response.request, response)
            return await client.send(follow, stream=True)
        if _httpx_logger.isEnabledFor(logging.INFO):
            _httpx_logger.info(
                'HTTP Request: %s %s "%s %d %s"',
                method,
                url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        return response


def direct_route(client: httpx.AsyncClient, url: str) -> DirectRoute | None:
    """The direct route of `url` on `client`, or None when httpx must send (module docstring)."""
    if not is_own_async(client) or client.is_closed:
        return None
    hooks = client.event_hooks
    if hooks["request"] or hooks["response"] or client.auth is not None or client.params:
        return None
    if not client.follow_redirects:  # hfinfer's own follow them; a user may have said otherwise
        return None
    if client.cookies:
        return None
    routes = client.direct_routes
    # A mock at the client level (respx's patches `_transport_for_url`; others `send`) replaces
    # a method on the class: the methods seen are part of the cached route's key.
    cls = type(client)
    methods = (cls._transport_for_url, cls.send)
    found = routes.get(url)
    if found is not None and found[0] == methods:
        return found[1]
    route = None
    if all(_genuine(method, "httpx._client") for method in methods):
        transport = client._transport_for_url(httpx.URL(url))
        handle = getattr(type(transport), "handle_async_request", None)
        if isinstance(transport, BytesTransport) and _genuine(handle, "hfinfer._aiohttp"):
            route = DirectRoute(client, transport, url)
    if len(routes) >= _CACHE_SIZE:
        routes.clear()
    routes[url] = (methods, route)
    return route


def _genuine(method: Any, module: str) -> bool:
    """The library's own method, not a mock's replacement."""
    return getattr(method, "__module__", None) == module
