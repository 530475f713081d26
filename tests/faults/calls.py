"""One call of any flavour, as an outcome: the value, or the exception, and how long it took.

Shared by the fault tests, the loopback tests and the soak. A flavour is a client on one engine:
"sync" (`InferenceClient`, httpx's own transport), "aiohttp" (`AsyncInferenceClient`, the default
engine) and "httpx-async" (`AsyncInferenceClient(engine="httpx")`). A sync test drives an async
client through its own event loop (`Runner`), so every test is written once for every engine.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hfinfer import AsyncInferenceClient, InferenceClient
from hfinfer._engines import Engine

Flavour = Literal["sync", "aiohttp", "httpx-async"]
Call = Literal["classify", "chat", "tts"]
FLAVOURS: tuple[Flavour, ...] = ("sync", "aiohttp", "httpx-async")
ASYNC_FLAVOURS: tuple[Flavour, ...] = ("aiohttp", "httpx-async")
ENGINE: dict[str, Engine] = {"aiohttp": "aiohttp", "httpx-async": "httpx"}
"""The `engine=` of the `AsyncInferenceClient` of each async flavour."""


def make_async_client(flavour: Flavour, **client_kwargs: Any) -> AsyncInferenceClient:
    """An `AsyncInferenceClient` on the engine of an async flavour."""
    return AsyncInferenceClient(engine=ENGINE[flavour], **client_kwargs)


def make_client(flavour: Flavour, **client_kwargs: Any) -> InferenceClient | AsyncInferenceClient:
    if flavour == "sync":
        return InferenceClient(**client_kwargs)
    return make_async_client(flavour, **client_kwargs)


MESSAGES = [{"role": "user", "content": "hi"}]


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    chunks: list[Any] = field(default_factory=list)
    """For streams: the delta contents received (also those before an error)."""
    elapsed: float = 0.0

    def describe(self) -> str:
        if self.error is None:
            return "ok"
        return f"{type(self.error).__name__}: {self.error}"


def _content(chunk: Any) -> Any:
    return chunk.choices[0].delta.content


def sync_call(client: InferenceClient, call: Call, model: str) -> Outcome:
    outcome = Outcome()
    start = time.monotonic()
    try:
        if call == "classify":
            outcome.value = client.text_classification("hi", model=model)
        elif call == "tts":
            outcome.value = client.text_to_speech("hi", model=model)
        else:
            for chunk in client.chat_completion(MESSAGES, model=model, stream=True):
                outcome.chunks.append(_content(chunk))
            outcome.value = outcome.chunks
    except Exception as exc:
        outcome.error = exc
    outcome.elapsed = time.monotonic() - start
    return outcome


async def async_call(client: AsyncInferenceClient, call: Call, model: str) -> Outcome:
    outcome = Outcome()
    start = time.monotonic()
    try:
        if call == "classify":
            outcome.value = await client.text_classification("hi", model=model)
        elif call == "tts":
            outcome.value = await client.text_to_speech("hi", model=model)
        else:
            stream = await client.chat_completion(MESSAGES, model=model, stream=True)
            try:
                async for chunk in stream:
                    outcome.chunks.append(_content(chunk))
            finally:
                await stream.aclose()
            outcome.value = outcome.chunks
    except Exception as exc:
        outcome.error = exc
    outcome.elapsed = time.monotonic() - start
    return outcome


class Runner:
    """One client of any flavour; `call()` is synchronous for all."""

    def __init__(self, flavour: Flavour, **client_kwargs: Any) -> None:
        self.flavour = flavour
        client_kwargs.setdefault("token", False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync: InferenceClient | None = None
        self._async: AsyncInferenceClient | None = None
        if flavour == "sync":
            self._sync = InferenceClient(**client_kwargs)
        else:
            self._loop = asyncio.new_event_loop()
            self._async = make_async_client(flavour, **client_kwargs)

    @property
    def client(self) -> InferenceClient | AsyncInferenceClient:
        client = self._sync or self._async
        assert client is not None
        return client

    def run(self, awaitable: Any) -> Any:
        """Run a coroutine on this runner's loop (async flavours only)."""
        assert self._loop is not None
        return self._loop.run_until_complete(awaitable)

    def do(self, fn: Callable[[Any], Any]) -> Outcome:
        """Any call on the client: `fn(client)` (awaited for async flavours), as an Outcome."""
        outcome = Outcome()
        start = time.monotonic()
        try:
            result = fn(self.client)
            if inspect.isawaitable(result):
                result = self.run(result)
            outcome.value = result
        except Exception as exc:
            outcome.error = exc
        outcome.elapsed = time.monotonic() - start
        return outcome

    def call(self, call: Call, model: str) -> Outcome:
        if self._sync is not None:
            return sync_call(self._sync, call, model)
        assert self._loop is not None and self._async is not None
        return self._loop.run_until_complete(async_call(self._async, call, model))

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._loop is not None and self._async is not None:
            self._loop.run_until_complete(self._async.close())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
            self._loop = None
