"""Sending: one persistent httpx client per hfinfer client, the wait-and-retry loop, error mapping.

The decisions (wait? how long? which error?) are pure functions shared by both flavours; the two
loops below differ only in how they sleep and do I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import httpx

from hfinfer._config import ClientConfig
from hfinfer._encoding import Body
from hfinfer._http_errors import ERROR_BODY_LIMIT, http_error, parse_body
from hfinfer._pool import HTTPTransport
from hfinfer._retry import Wait, next_wait
from hfinfer.errors import InferenceConnectionError, InferenceTimeoutError

logger = logging.getLogger("hfinfer")


class Outgoing(NamedTuple):
    """A request ready to send."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: Body = Body()
    task: str | None = None
    errors: str | None = None
    wait_header: bool = False
    """Add `X-wait-for-model: 1` when the model-loading wait retries (Hugging Face endpoints)."""


MAX_KEEPALIVE = 64
MAX_REDIRECTS = 10


def httpx_timeout(timeout: float | None) -> httpx.Timeout:
    return httpx.Timeout(timeout)


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
    pass


def _client_options(config: ClientConfig, *, is_async: bool) -> dict[str, Any]:
    """What both flavours of httpx client are built with (beside the transport).

    Redirects are followed; httpx drops `Authorization` when one leads to another origin (an
    http → https upgrade of the same host aside), so a token never follows a redirect elsewhere.
    """
    return {
        "cookies": dict(config.cookies or {}),
        "mounts": proxy_mounts(config.proxies, is_async=is_async),
        "trust_env": config.trust_env,
        "follow_redirects": True,
        "max_redirects": MAX_REDIRECTS,
        "timeout": httpx.Timeout(config.timeout),
    }


def sync_http_client(config: ClientConfig) -> httpx.Client:
    """The httpx client an `InferenceClient` creates: hfinfer's HTTP/1.1 transport beneath."""
    transport = HTTPTransport(trust_env=config.trust_env, max_keepalive=MAX_KEEPALIVE)
    return _Client(transport=transport, **_client_options(config, is_async=False))


def async_http_client(config: ClientConfig) -> httpx.AsyncClient:
    """The httpx client an `AsyncInferenceClient` creates: hfinfer's asyncio transport beneath."""
    from hfinfer._apool import AsyncHTTPTransport  # asyncio is imported when first needed

    transport = AsyncHTTPTransport(trust_env=config.trust_env, max_keepalive=MAX_KEEPALIVE)
    return _AsyncClient(transport=transport, **_client_options(config, is_async=True))


def proxy_mounts(
    proxies: Any, *, is_async: bool
) -> dict[str, httpx.BaseTransport | httpx.AsyncBaseTransport] | None:
    """`proxies` as a URL string or a requests-style dict ({"https": url}) → httpx mounts."""
    if not proxies:
        return None
    transport = httpx.AsyncHTTPTransport if is_async else httpx.HTTPTransport
    if isinstance(proxies, (str, httpx.URL, httpx.Proxy)):
        return {"all://": transport(proxy=proxies)}
    if isinstance(proxies, Mapping):
        mounts: dict[str, Any] = {}
        for key, url in proxies.items():
            if url is None:
                continue
            pattern = key if "://" in key else f"{key}://"
            mounts[pattern] = transport(proxy=url)
        return mounts
    raise TypeError("`proxies` must be a proxy URL or a dict like {'https': 'http://proxy:3128'}")


def _request(
    client: httpx.Client | httpx.AsyncClient,
    out: Outgoing,
    headers: Mapping[str, str],
    timeout: float | None,
) -> httpx.Request:
    body = out.body
    if body.content is not None:
        return client.build_request(
            out.method,
            out.url,
            headers=headers,
            content=body.content,
            timeout=httpx_timeout(timeout),
        )
    if body.json is not None:
        return client.build_request(
            out.method, out.url, headers=headers, json=body.json, timeout=httpx_timeout(timeout)
        )
    return client.build_request(
        out.method, out.url, headers=headers, timeout=httpx_timeout(timeout)
    )


class _Loop:
    """The state of one call across attempts; decides what to do after each failure."""

    def __init__(self, out: Outgoing, timeout: float | None, max_retries: int) -> None:
        self.out = out
        self.timeout = timeout
        self.max_retries = max_retries
        self.started = time.monotonic()
        self.attempts = 0
        self.retries = 0
        self.headers = dict(out.headers)

    def remaining(self) -> float | None:
        if self.timeout is None:
            return None
        return self.timeout - (time.monotonic() - self.started)

    def timeout_error(self, exc: httpx.TimeoutException) -> InferenceTimeoutError:
        kind = type(exc).__name__
        return InferenceTimeoutError(
            f"Inference call timed out ({kind}, timeout={self.timeout}s) on attempt"
            f" {self.attempts}: {self.out.method} {self.out.url}",
            request=exc.request,
            attempts=self.attempts,
        )

    def after_connection_error(self, exc: httpx.TransportError) -> Wait:
        wait = next_wait(
            status=None,
            headers={},
            body=None,
            retries_done=self.retries,
            max_retries=self.max_retries,
            remaining=self.remaining(),
        )
        if wait is None:
            raise InferenceConnectionError(
                f"Connection to {self.out.url} failed after {self.attempts} attempt(s): {type(exc).__name__}: {exc}",
                request=exc.request,
                attempts=self.attempts,
            ) from exc
        self.retries += 1
        logger.debug(
            "hfinfer: retry %d of %s %s in %.2fs after %s",
            self.retries,
            self.out.method,
            self.out.url,
            wait.seconds,
            type(exc).__name__,
        )
        return wait

    def after_error_status(self, response: httpx.Response, content: bytes) -> Wait:
        body = parse_body(content)
        wait = next_wait(
            status=response.status_code,
            headers=response.headers,
            body=body,
            retries_done=self.retries,
            max_retries=self.max_retries,
            remaining=self.remaining(),
        )
        if wait is None:
            raise http_error(
                response,
                content,
                task=self.out.task,
                errors=self.out.errors,
                attempts=self.attempts,
            )
        if wait.loading:
            remaining = self.remaining()
            if remaining is not None and remaining <= 0:
                raise InferenceTimeoutError(
                    f"Model not loaded on the server: {self.out.url}. Please retry with a higher"
                    f" timeout (current: {self.timeout}; {self.attempts} attempt(s)).",
                    request=response.request,
                    response=response,
                    attempts=self.attempts,
                )
            if remaining is not None:
                wait = Wait(min(wait.seconds, remaining), loading=True)
            if self.out.wait_header:
                self.headers["X-wait-for-model"] = "1"
            logger.info(
                "hfinfer: model is loading at %s; waiting %.1fs", self.out.url, wait.seconds
            )
        else:
            self.retries += 1
            logger.debug(
                "hfinfer: retry %d of %s %s in %.2fs after HTTP %d",
                self.retries,
                self.out.method,
                self.out.url,
                wait.seconds,
                response.status_code,
            )
        return wait


def _read_error_body_sync(response: httpx.Response) -> bytes:
    content = b""
    try:
        for chunk in response.iter_bytes():
            content += chunk
            if len(content) >= ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    finally:
        response.close()
    return content[:ERROR_BODY_LIMIT]


async def _read_error_body_async(response: httpx.Response) -> bytes:
    content = b""
    try:
        async for chunk in response.aiter_bytes():
            content += chunk
            if len(content) >= ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    finally:
        await response.aclose()
    return content[:ERROR_BODY_LIMIT]


def send_sync(
    client: httpx.Client,
    out: Outgoing,
    *,
    timeout: float | None,
    max_retries: int,
    stream: bool = False,
) -> httpx.Response:
    """Send with waits and retries; return a successful response (read unless `stream`)."""
    loop = _Loop(out, timeout, max_retries)
    while True:
        loop.attempts += 1
        try:
            response = client.send(_request(client, out, loop.headers, timeout), stream=True)
        except httpx.TimeoutException as exc:
            raise loop.timeout_error(exc) from exc
        except httpx.TransportError as exc:
            time.sleep(loop.after_connection_error(exc).seconds)
            continue
        if response.is_success:
            if not stream:
                try:
                    response.read()
                except httpx.TimeoutException as exc:
                    raise loop.timeout_error(exc) from exc
                except httpx.TransportError as exc:  # broke mid-body: nothing was delivered yet
                    time.sleep(loop.after_connection_error(exc).seconds)
                    continue
                finally:
                    response.close()
            return response
        time.sleep(loop.after_error_status(response, _read_error_body_sync(response)).seconds)


async def send_async(
    client: httpx.AsyncClient,
    out: Outgoing,
    *,
    timeout: float | None,
    max_retries: int,
    stream: bool = False,
) -> httpx.Response:
    """The async twin of `send_sync`; waits never block the event loop."""
    import asyncio  # here, so that importing hfinfer does not import asyncio

    loop = _Loop(out, timeout, max_retries)
    while True:
        loop.attempts += 1
        try:
            response = await client.send(_request(client, out, loop.headers, timeout), stream=True)
        except httpx.TimeoutException as exc:
            raise loop.timeout_error(exc) from exc
        except httpx.TransportError as exc:
            await asyncio.sleep(loop.after_connection_error(exc).seconds)
            continue
        if response.is_success:
            if not stream:
                try:
                    await response.aread()
                except httpx.TimeoutException as exc:
                    raise loop.timeout_error(exc) from exc
                except httpx.TransportError as exc:  # broke mid-body: nothing was delivered yet
                    await asyncio.sleep(loop.after_connection_error(exc).seconds)
                    continue
                finally:
                    await response.aclose()
            return response
        await asyncio.sleep(
            loop.after_error_status(response, await _read_error_body_async(response)).seconds
        )
