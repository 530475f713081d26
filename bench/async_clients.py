"""Async adapters for text_classification and chat_completion, one per client.

hfinfer runs on both of its engines, passed explicitly: `engine="aiohttp"` (the default) and
`engine="httpx"`. Bare clients: a persistent `aiohttp.ClientSession` and a persistent
`httpx.AsyncClient`, each encoding the body, checking the status, `json.loads` and reading the
fields. hfinfer and the bare clients get the same pool size, `max(concurrency, 100)` connections
(hfinfer's and aiohttp's default is 100; bare httpx's pool keeps as many alive as it may open);
huggingface_hub and openai run with their own defaults, as users get them.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

import server as srv
import workloads as wl

STATUS_OK = 200
DEFAULT_POOL = 100


def pool_size(concurrency: int) -> int:
    return max(concurrency, DEFAULT_POOL)


def hfinfer_async_params() -> set[str]:
    """The keyword parameters of hfinfer.AsyncInferenceClient (engine=, limits= once they land)."""
    hfinfer: Any = importlib.import_module("hfinfer")
    return set(inspect.signature(hfinfer.AsyncInferenceClient).parameters)


def _lib_client(client: str, concurrency: int, **kwargs: Any) -> Any:
    if client in ("hub", "hub_old"):
        return importlib.import_module("huggingface_hub").AsyncInferenceClient(**kwargs)
    hfinfer: Any = importlib.import_module("hfinfer")
    params = hfinfer_async_params()
    engine = "httpx" if client == "hfinfer_httpx" else "aiohttp"
    if "engine" in params:
        kwargs["engine"] = engine
    elif engine == "httpx":
        raise RuntimeError(
            "hfinfer.AsyncInferenceClient has no engine= parameter yet, so engine='httpx' "
            "cannot be measured"
        )
    if "limits" in params:
        import httpx

        size = pool_size(concurrency)
        kwargs["limits"] = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    return hfinfer.AsyncInferenceClient(**kwargs)


class LibClassify:
    def __init__(self, client: str, base: str, concurrency: int) -> None:
        self.client = _lib_client(client, concurrency, model=base + srv.CLASSIFY)

    async def once(self) -> object:
        return wl.labels(await self.client.text_classification(wl.TEXT))

    async def close(self) -> None:
        await self.client.close()


class LibChat:
    def __init__(self, client: str, base: str, concurrency: int) -> None:
        self.client = _lib_client(client, concurrency, base_url=base + "/chat")

    async def once(self) -> object:
        out = await self.client.chat_completion(wl.MESSAGES)
        return out.choices[0].message.content

    async def close(self) -> None:
        await self.client.close()


class _Httpx:
    def __init__(self, url: str, concurrency: int) -> None:
        import httpx

        size = pool_size(concurrency)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.client = httpx.AsyncClient(limits=limits)
        self.url = url

    async def post(self, payload: object) -> Any:
        body = json.dumps(payload).encode()
        r = await self.client.post(self.url, content=body, headers=wl.JSON_HEADERS)
        if r.status_code != STATUS_OK:
            raise RuntimeError(f"HTTP {r.status_code}")
        return json.loads(r.content)

    async def close(self) -> None:
        await self.client.aclose()


class _Aiohttp:
    def __init__(self, url: str, concurrency: int) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=pool_size(concurrency))
        self.session = aiohttp.ClientSession(connector=connector)
        self.url = url

    async def post(self, payload: object) -> Any:
        body = json.dumps(payload).encode()
        async with self.session.post(self.url, data=body, headers=wl.JSON_HEADERS) as r:
            if r.status != STATUS_OK:
                raise RuntimeError(f"HTTP {r.status}")
            return json.loads(await r.read())

    async def close(self) -> None:
        await self.session.close()


class HttpxClassify(_Httpx):
    def __init__(self, base: str, concurrency: int) -> None:
        super().__init__(base + srv.CLASSIFY, concurrency)

    async def once(self) -> object:
        return wl.labels_json(await self.post({"inputs": wl.TEXT}))


class HttpxChat(_Httpx):
    def __init__(self, base: str, concurrency: int) -> None:
        super().__init__(base + srv.CHAT, concurrency)

    async def once(self) -> object:
        out = await self.post({"model": "tgi", "messages": wl.MESSAGES})
        return out["choices"][0]["message"]["content"]


class AiohttpClassify(_Aiohttp):
    def __init__(self, base: str, concurrency: int) -> None:
        super().__init__(base + srv.CLASSIFY, concurrency)

    async def once(self) -> object:
        return wl.labels_json(await self.post({"inputs": wl.TEXT}))


class AiohttpChat(_Aiohttp):
    def __init__(self, base: str, concurrency: int) -> None:
        super().__init__(base + srv.CHAT, concurrency)

    async def once(self) -> object:
        out = await self.post({"model": "tgi", "messages": wl.MESSAGES})
        return out["choices"][0]["message"]["content"]


class OpenaiChat:
    """openai.AsyncOpenAI with its defaults (its own httpx pool), retries off."""

    def __init__(self, base: str, concurrency: int) -> None:
        openai: Any = importlib.import_module("openai")
        self.client = openai.AsyncOpenAI(base_url=base + "/chat/v1", api_key="bench", max_retries=0)

    async def once(self) -> object:
        out = await self.client.chat.completions.create(model="tgi", messages=wl.MESSAGES)
        return out.choices[0].message.content

    async def close(self) -> None:
        await self.client.close()


OTHER: dict[str, dict[str, type[Any]]] = {
    "httpx": {"text_classification": HttpxClassify, "chat_completion": HttpxChat},
    "aiohttp": {"text_classification": AiohttpClassify, "chat_completion": AiohttpChat},
    "openai": {"chat_completion": OpenaiChat},
}
LIB: dict[str, type[LibClassify | LibChat]] = {
    "text_classification": LibClassify,
    "chat_completion": LibChat,
}


async def make(client: str, workload: str, base: str, concurrency: int) -> wl.AsyncAdapter:
    """A new adapter, made inside the running event loop (aiohttp sessions belong to one)."""
    if client in ("hfinfer", "hfinfer_httpx", "hub", "hub_old"):
        adapter: wl.AsyncAdapter = LIB[workload](client, base, concurrency)
    else:
        adapter = OTHER[client][workload](base, concurrency)
    return adapter
