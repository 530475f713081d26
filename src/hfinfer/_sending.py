"""Sending: the wait-and-retry loop over an httpx client, and the mapping of failures to errors.

The decisions (wait? how long? which error?) are pure functions shared by both flavours; the two
loops below differ only in how they sleep and do I/O. Which engine is beneath the httpx client is
`_engines.py`'s business.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Mapping
from typing import NamedTuple

import httpx

from hfinfer._encoding import Body
from hfinfer._http_errors import ERROR_BODY_LIMIT, http_error, parse_body
from hfinfer._retry import Wait, next_wait, retry_after
from hfinfer.errors import (
    InferenceConnectionError,
    InferenceRequestError,
    InferenceTimeoutError,
)

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
    withheld_token: bool = False
    """A token was found (environment or token file) but not sent to this host."""


class Policy(NamedTuple):
    """How one call may wait: the client's timeout, retries and the cap on a server's Retry-After."""

    timeout: float | None
    max_retries: int
    max_retry_wait: float


def httpx_timeout(timeout: float | None) -> httpx.Timeout:
    return httpx.Timeout(timeout)


ATTEMPTS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "hfinfer_attempts", default=None
)
"""When set (to `[0]`), every request sent in this context adds one: retries, polls, downloads."""

READ_WHOLE = "hfinfer.read_whole"
"""Request extension: the caller reads the whole body, so an engine may read it at once."""

_URLS: dict[str, httpx.URL] = {}
_URL_CACHE_SIZE = 256


def _url(url: str) -> httpx.URL:
    """A parsed URL, kept for the URLs a process calls again and again (parsing is costly)."""
    parsed = _URLS.get(url)
    if parsed is None:
        if len(_URLS) >= _URL_CACHE_SIZE:
            _URLS.clear()
        parsed = _URLS[url] = httpx.URL(url)
    return parsed


def _request(
    client: httpx.Client | httpx.AsyncClient,
    out: Outgoing,
    headers: Mapping[str, str],
    timeout: float | None,
    *,
    stream: bool,
) -> httpx.Request:
    body = out.body
    return client.build_request(
        out.method,
        _url(out.url),
        headers=headers,
        content=body.content,
        json=body.json if body.content is None else None,
        timeout=httpx_timeout(timeout),
        extensions=None if stream else {READ_WHOLE: True},
    )


_NOT_RETRIED = (httpx.LocalProtocolError, httpx.UnsupportedProtocol)
"""Failures of our own request: sending it again cannot help."""


class _Loop:
    """The state of one call across attempts; decides what to do after each failure."""

    def __init__(self, out: Outgoing, policy: Policy) -> None:
        self.out = out
        self.timeout = policy.timeout
        self.max_retries = policy.max_retries
        self.max_retry_wait = policy.max_retry_wait
        self.started = time.monotonic()
        self.attempts = 0
        self.retries = 0
        self.headers = dict(out.headers)

    def next_attempt(self) -> None:
        self.attempts += 1
        counter = ATTEMPTS.get()
        if counter is not None:
            counter[0] += 1

    def remaining(self) -> float | None:
        if self.timeout is None:
            return None
        return self.timeout - (time.monotonic() - self.started)

    def timeout_error(self, exc: httpx.TimeoutException) -> InferenceTimeoutError:
        kind = type(exc).__name__
        return InferenceTimeoutError(
            f"Inference call timed out ({kind}, timeout="
            f"{'None' if self.timeout is None else f'{self.timeout}s'}) on attempt"
            f" {self.attempts}: {self.out.method} {self.out.url}",
            request=exc.request,
            attempts=self.attempts,
        )

    def after_connection_error(self, exc: httpx.TransportError) -> Wait:
        if isinstance(exc, _NOT_RETRIED):
            raise InferenceRequestError(
                f"The request to {self.out.url} could not be sent as HTTP: {exc}",
                request=exc.request,
            ) from exc
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
        self._log_retry(type(exc).__name__, wait)
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
            max_retry_wait=self.max_retry_wait,
        )
        if wait is None:
            raise self._status_error(response, content)
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
            self._log_retry(f"HTTP {response.status_code}", wait)
        return wait

    def _log_retry(self, reason: str, wait: Wait) -> None:
        logger.info(
            "hfinfer: retry %d of %d for %s %s in %.2fs after %s",
            self.retries,
            self.max_retries,
            self.out.method,
            self.out.url,
            wait.seconds,
            reason,
        )

    def _status_error(self, response: httpx.Response, content: bytes) -> Exception:
        notes = []
        asked = retry_after(response.headers)
        if asked is not None and asked > self.max_retry_wait and self.retries < self.max_retries:
            notes.append(
                f"The server asked to retry after {asked:.1f}s, more than max_retry_wait="
                f"{self.max_retry_wait:g}s: not waiting (raise max_retry_wait to wait that long)."
            )
        if self.out.withheld_token and response.status_code in (401, 403):
            notes.append(
                "A Hugging Face token was found (HF_TOKEN or the token file) but was not sent to"
                f" {response.request.url.host}: implicit tokens go only to Hugging Face hosts."
                " Pass it explicitly (token=...) to send it to this server."
            )
        return http_error(
            response,
            content,
            task=self.out.task,
            errors=self.out.errors,
            attempts=self.attempts,
            notes=notes,
            retry_after=asked,
        )


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
    client: httpx.Client, out: Outgoing, policy: Policy, *, stream: bool = False
) -> httpx.Response:
    """Send with waits and retries; return a successful response (read unless `stream`)."""
    loop = _Loop(out, policy)
    while True:
        loop.next_attempt()
        try:
            response = client.send(
                _request(client, out, loop.headers, policy.timeout, stream=stream), stream=True
            )
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
    client: httpx.AsyncClient, out: Outgoing, policy: Policy, *, stream: bool = False
) -> httpx.Response:
    """The async twin of `send_sync`; waits never block the event loop."""
    import asyncio  # here, so that importing hfinfer does not import asyncio

    from hfinfer._direct import direct_route  # and not aiohttp

    loop = _Loop(out, policy)
    while True:
        loop.next_attempt()
        # Looked up per attempt: an answer may have set a cookie, which httpx must then send.
        direct = None if stream else direct_route(client, out.url)
        try:
            if direct is not None:
                response = await direct.send(out.method, loop.headers, out.body, policy.timeout)
            else:
                request = _request(client, out, loop.headers, policy.timeout, stream=stream)
                response = await client.send(request, stream=True)
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
