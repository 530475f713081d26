"""The httpx clients hfinfer builds, one per flavour, driven the same way from a sync test.

A flavour is an engine beneath httpx's API (the same names as in tests/faults/calls.py):

- "sync": `InferenceClient`'s httpx client, httpx's own transport (httpcore + h11);
- "aiohttp": `AsyncInferenceClient`'s default, aiohttp beneath httpx (`hfinfer._aiohttp`);
- "httpx-async": `AsyncInferenceClient(engine="httpx")`, httpx's own asyncio transport.

`Http(flavour)` builds the client exactly as hfinfer does (`hfinfer._engines`, from a
`ClientConfig`), runs async flavours on an event loop of its own, and gives every test one
synchronous API, so that each behaviour is written once and checked on every engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import httpx

from hfinfer._config import ClientConfig
from hfinfer._engines import async_http_client, sync_http_client
from tests.faults.calls import ASYNC_FLAVOURS, ENGINE, FLAVOURS, Flavour

__all__ = ["ASYNC_FLAVOURS", "ENGINE", "FLAVOURS", "Flavour", "Http", "config"]


def config(flavour: Flavour, **overrides: Any) -> ClientConfig:
    """The `ClientConfig` a client of this flavour would be built with (no token, no env)."""
    options: dict[str, Any] = {
        "token": False,
        "api_key": None,
        "timeout": 5.0,
        "headers": None,
        "cookies": None,
        "proxies": None,
        "base_url": None,
        "trust_env": False,
        "max_retries": 0,
        "engine": ENGINE.get(flavour, "httpx"),
    }
    options.update(overrides)
    return ClientConfig.build(None, **options)


async def _agen(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _gen(chunks: list[bytes]) -> Iterator[bytes]:
    yield from chunks


class Http:
    """An engine-built httpx client of one flavour, with a synchronous API for every flavour."""

    def __init__(self, flavour: Flavour, **overrides: Any) -> None:
        self.flavour = flavour
        self.config = config(flavour, **overrides)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sync: httpx.Client | None = None
        self.async_: httpx.AsyncClient | None = None
        if flavour == "sync":
            self.sync = sync_http_client(self.config)
        else:
            self.loop = asyncio.new_event_loop()
            self.async_ = async_http_client(self.config)

    @property
    def client(self) -> httpx.Client | httpx.AsyncClient:
        client = self.sync or self.async_
        assert client is not None
        return client

    def run(self, awaitable: Any) -> Any:
        assert self.loop is not None
        return self.loop.run_until_complete(awaitable)

    def request(
        self, method: str, url: str, *, chunks: Iterable[bytes] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Send and read the whole response. `chunks`: a streamed body (generator of the flavour)."""
        if chunks is not None:
            pieces = list(chunks)
            kwargs["content"] = _gen(pieces) if self.sync is not None else _agen(pieces)
        if self.sync is not None:
            return self.sync.request(method, url, **kwargs)
        assert self.async_ is not None
        return self.run(self.async_.request(method, url, **kwargs))  # type: ignore[no-any-return]

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def read_some(self, method: str, url: str, n: int) -> bytes:
        """Stream a response, read about `n` bytes of its body, then close it early."""
        if self.sync is not None:
            with self.sync.stream(method, url) as response:
                return next(response.iter_raw(n))

        async def first() -> bytes:
            assert self.async_ is not None
            async with self.async_.stream(method, url) as response:
                async for piece in response.aiter_raw(n):
                    return piece
            return b""

        return self.run(first())  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.sync is not None:
            self.sync.close()
        if self.loop is not None and self.async_ is not None:
            self.loop.run_until_complete(self.async_.aclose())
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
            self.loop = None

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
