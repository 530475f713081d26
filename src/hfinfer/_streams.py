"""Streams of typed chunks that always release their connection.

The response is closed in `finally`: when the stream ends, when the caller breaks out early (the
stream is dropped or closed), or when a chunk raises. The caller's loop ends at `[DONE]`, whatever
the server does next: a body that ends there returns its connection to the pool; one that stays
open after `[DONE]` is closed, never waited on.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from types import TracebackType
from typing import Generic, TypeVar

import httpx

from hfinfer._sse import DONE, SSEDecoder
from hfinfer.errors import InferenceError

T = TypeVar("T")

EventDecoder = Callable[[str], T]
ErrorMapper = Callable[[Exception], Exception]


class Stream(Generic[T]):
    """An iterator of stream chunks; use `with` or `close()` to stop early and free the connection."""

    def __init__(
        self, response: httpx.Response, decode: EventDecoder[T], on_error: ErrorMapper
    ) -> None:
        self.response = response
        # The generator must not reference `self`: that cycle would leave closing to the GC when
        # the caller breaks out of `for chunk in client.method(..., stream=True)`.
        self._iterator = _iterate(response, decode, on_error)

    def __iter__(self) -> Iterator[T]:
        return self._iterator

    def __next__(self) -> T:
        return next(self._iterator)

    def close(self) -> None:
        self._iterator.close()
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """An async iterator of stream chunks; use `async with` or `aclose()` to stop early."""

    def __init__(
        self, response: httpx.Response, decode: EventDecoder[T], on_error: ErrorMapper
    ) -> None:
        self.response = response
        self._iterator = _aiterate(response, decode, on_error)

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterator

    async def __anext__(self) -> T:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        await self._iterator.aclose()
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _iterate(
    response: httpx.Response, decode: EventDecoder[T], on_error: ErrorMapper
) -> Generator[T, None, None]:
    decoder = SSEDecoder()
    try:
        try:
            chunks = response.iter_bytes()
            for chunk in chunks:
                for data in decoder.feed(chunk):
                    if data.strip() == DONE:
                        return
                    yield decode(data)
            for data in decoder.flush():
                if data.strip() == DONE:
                    return
                yield decode(data)
        except InferenceError:
            raise  # typed errors from the stream itself (error events) pass through
        except httpx.HTTPError as exc:
            raise on_error(exc) from exc
    finally:
        response.close()


async def _aiterate(
    response: httpx.Response, decode: EventDecoder[T], on_error: ErrorMapper
) -> AsyncGenerator[T, None]:
    decoder = SSEDecoder()
    try:
        try:
            chunks = response.aiter_bytes()
            async for chunk in chunks:
                for data in decoder.feed(chunk):
                    if data.strip() == DONE:
                        return
                    yield decode(data)
            for data in decoder.flush():
                if data.strip() == DONE:
                    return
                yield decode(data)
        except InferenceError:
            raise
        except httpx.HTTPError as exc:
            raise on_error(exc) from exc
    finally:
        await response.aclose()
