"""The work each client does per operation, for hfinfer, huggingface_hub and bare httpx.

Every adapter makes the call a user would make and reads the result's fields, and returns the
same plain value (labels and scores, the message text, the list of streamed texts, the array) so
that the harness can check correctness before timing. Client libraries are imported inside the
factories, so that a process measuring one client never imports the others.

huggingface_hub is imported through importlib: it is installed only in the bench session, and its
calls are typed `Any` here so that `mypy --strict bench` also passes where it is absent.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import server as srv

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

CLIENTS = ("hfinfer", "huggingface_hub", "httpx")

TEXT = "I love this"
MESSAGES = [{"role": "user", "content": "Hello, who are you?"}]
PROMPT = "Once upon a time"
EMBED_TEXT = "Today is a sunny day and I will get some ice cream."
JSON_HEADERS = {"content-type": "application/json"}


def _hub() -> Any:
    return importlib.import_module("huggingface_hub")


class SyncAdapter(Protocol):
    def once(self) -> object: ...

    def close(self) -> None: ...


class AsyncAdapter(Protocol):
    async def once(self) -> object: ...

    async def close(self) -> None: ...


SyncFactory = Callable[[str], SyncAdapter]
AsyncFactory = Callable[[str], Awaitable[AsyncAdapter]]


# --------------------------------------------------------------------------------------------
# 1. text_classification (sync) and 6. the async version


def _labels(out: Any) -> list[tuple[str, float]]:
    return [(e.label, e.score) for e in out]


def _labels_json(data: Any) -> list[tuple[str, float]]:
    items = data[0] if data and isinstance(data[0], list) else data
    return [(d["label"], d["score"]) for d in items]


def expected_labels() -> list[tuple[str, float]]:
    return _labels_json(srv.CLASSIFY_RESULT)


class HfinferClassify:
    def __init__(self, base: str, path: str = srv.CLASSIFY) -> None:
        import hfinfer

        self.client = hfinfer.InferenceClient(model=base + path)

    def once(self) -> object:
        return _labels(self.client.text_classification(TEXT))

    def close(self) -> None:
        self.client.close()


class HubClassify:
    def __init__(self, base: str, path: str = srv.CLASSIFY) -> None:
        self.client = _hub().InferenceClient(model=base + path)

    def once(self) -> object:
        out = self.client.text_classification(TEXT)
        # Against a flat list (TEI's format) huggingface_hub returns only the first element.
        return _labels(out if isinstance(out, list) else [out])

    def close(self) -> None:
        self.client.close()


class HttpxClassify:
    def __init__(self, base: str, path: str = srv.CLASSIFY) -> None:
        import httpx

        self.client = httpx.Client()
        self.url = base + path

    def once(self) -> object:
        body = json.dumps({"inputs": TEXT}).encode()
        r = self.client.post(self.url, content=body, headers=JSON_HEADERS)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        return _labels_json(json.loads(r.content))

    def close(self) -> None:
        self.client.close()


class HfinferAsyncClassify:
    def __init__(self, base: str) -> None:
        import hfinfer

        self.client = hfinfer.AsyncInferenceClient(model=base + srv.CLASSIFY)

    async def once(self) -> object:
        return _labels(await self.client.text_classification(TEXT))

    async def close(self) -> None:
        await self.client.close()


class HubAsyncClassify:
    def __init__(self, base: str) -> None:
        self.client = _hub().AsyncInferenceClient(model=base + srv.CLASSIFY)

    async def once(self) -> object:
        out = await self.client.text_classification(TEXT)
        return _labels(out if isinstance(out, list) else [out])

    async def close(self) -> None:
        await self.client.close()


class HttpxAsyncClassify:
    def __init__(self, base: str) -> None:
        import httpx

        # Sized for the 64 concurrent requests (httpx's default keeps only 20 idle connections).
        self.client = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=64))
        self.url = base + srv.CLASSIFY

    async def once(self) -> object:
        body = json.dumps({"inputs": TEXT}).encode()
        r = await self.client.post(self.url, content=body, headers=JSON_HEADERS)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        return _labels_json(json.loads(r.content))

    async def close(self) -> None:
        await self.client.aclose()


# --------------------------------------------------------------------------------------------
# 2. chat_completion (sync, non-streaming)


class HfinferChat:
    def __init__(self, base: str) -> None:
        import hfinfer

        self.client = hfinfer.InferenceClient(base_url=base + "/chat")

    def once(self) -> object:
        return self.client.chat_completion(MESSAGES).choices[0].message.content

    def close(self) -> None:
        self.client.close()


class HubChat:
    def __init__(self, base: str) -> None:
        self.client = _hub().InferenceClient(base_url=base + "/chat")

    def once(self) -> object:
        return self.client.chat_completion(MESSAGES).choices[0].message.content

    def close(self) -> None:
        self.client.close()


class HttpxChat:
    def __init__(self, base: str) -> None:
        import httpx

        self.client = httpx.Client()
        self.url = base + srv.CHAT

    def once(self) -> object:
        body = json.dumps({"model": "tgi", "messages": MESSAGES}).encode()
        r = self.client.post(self.url, content=body, headers=JSON_HEADERS)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        return json.loads(r.content)["choices"][0]["message"]["content"]

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------------------------
# 3. chat_completion(stream=True)


class HfinferChatStream:
    def __init__(self, base: str) -> None:
        import hfinfer

        self.client = hfinfer.InferenceClient(base_url=base + "/chatstream")

    def once(self) -> object:
        return [
            c.choices[0].delta.content for c in self.client.chat_completion(MESSAGES, stream=True)
        ]

    def close(self) -> None:
        self.client.close()


class HubChatStream:
    def __init__(self, base: str) -> None:
        self.client = _hub().InferenceClient(base_url=base + "/chatstream")

    def once(self) -> object:
        return [
            c.choices[0].delta.content for c in self.client.chat_completion(MESSAGES, stream=True)
        ]

    def close(self) -> None:
        self.client.close()


class HttpxChatStream:
    def __init__(self, base: str) -> None:
        import httpx

        self.client = httpx.Client()
        self.url = base + srv.CHAT_STREAM

    def once(self) -> object:
        body = json.dumps({"model": "tgi", "messages": MESSAGES, "stream": True}).encode()
        out: list[str] = []
        with self.client.stream("POST", self.url, content=body, headers=JSON_HEADERS) as r:
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    continue  # read on to the end, so that the connection is kept
                out.append(json.loads(payload)["choices"][0]["delta"]["content"])
        return out

    def close(self) -> None:
        self.client.close()


def expected_chat_stream(chunks: int) -> list[str]:
    return [srv.chat_chunk_text(i) for i in range(chunks)]


# --------------------------------------------------------------------------------------------
# 4. text_generation(stream=True), TGI's token stream


class HfinferGenerate:
    def __init__(self, base: str) -> None:
        import hfinfer

        self.client = hfinfer.InferenceClient(model=base + srv.GENERATE)

    def once(self) -> object:
        return list(self.client.text_generation(PROMPT, stream=True))

    def close(self) -> None:
        self.client.close()


class HubGenerate:
    def __init__(self, base: str) -> None:
        self.client = _hub().InferenceClient(model=base + srv.GENERATE)

    def once(self) -> object:
        return list(self.client.text_generation(PROMPT, stream=True))

    def close(self) -> None:
        self.client.close()


class HttpxGenerate:
    def __init__(self, base: str) -> None:
        import httpx

        self.client = httpx.Client()
        self.url = base + srv.GENERATE

    def once(self) -> object:
        body = json.dumps({"inputs": PROMPT, "parameters": {}, "stream": True}).encode()
        out: list[str] = []
        with self.client.stream("POST", self.url, content=body, headers=JSON_HEADERS) as r:
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            for line in r.iter_lines():
                if line.startswith("data:"):
                    out.append(json.loads(line[5:])["token"]["text"])
        return out

    def close(self) -> None:
        self.client.close()


def expected_tokens(chunks: int) -> list[str]:
    return [srv.token_text(i) for i in range(chunks)]


# --------------------------------------------------------------------------------------------
# 5. feature_extraction → float32 ndarray


class HfinferEmbed:
    def __init__(self, base: str) -> None:
        import hfinfer

        self.client = hfinfer.InferenceClient(model=base + srv.EMBED)

    def once(self) -> object:
        return self.client.feature_extraction(EMBED_TEXT)

    def close(self) -> None:
        self.client.close()


class HubEmbed:
    def __init__(self, base: str) -> None:
        self.client = _hub().InferenceClient(model=base + srv.EMBED)

    def once(self) -> object:
        return self.client.feature_extraction(EMBED_TEXT)

    def close(self) -> None:
        self.client.close()


class HttpxEmbed:
    def __init__(self, base: str) -> None:
        import httpx
        import numpy

        self.np = numpy
        self.client = httpx.Client()
        self.url = base + srv.EMBED

    def once(self) -> object:
        body = json.dumps({"inputs": EMBED_TEXT}).encode()
        r = self.client.post(self.url, content=body, headers=JSON_HEADERS)
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}")
        return self.np.array(json.loads(r.content), dtype=self.np.float32)

    def close(self) -> None:
        self.client.close()


def check_embedding(value: object, dim: int) -> str | None:
    import numpy

    if not isinstance(value, numpy.ndarray):
        return f"not an ndarray: {type(value).__name__}"
    arr: NDArray[np.float32] = value
    if arr.dtype != numpy.float32:
        return f"dtype {arr.dtype}, expected float32"
    expected = numpy.array(srv.embedding(dim), dtype=numpy.float32)
    if arr.size != dim or not numpy.array_equal(arr.reshape(-1), expected):
        return f"values differ (shape {arr.shape})"
    return None


# --------------------------------------------------------------------------------------------
# Registry

SYNC_FACTORIES: dict[str, dict[str, SyncFactory]] = {
    "text_classification": {
        "hfinfer": HfinferClassify,
        "huggingface_hub": HubClassify,
        "httpx": HttpxClassify,
    },
    "chat_completion": {"hfinfer": HfinferChat, "huggingface_hub": HubChat, "httpx": HttpxChat},
    "chat_completion_stream": {
        "hfinfer": HfinferChatStream,
        "huggingface_hub": HubChatStream,
        "httpx": HttpxChatStream,
    },
    "text_generation_stream": {
        "hfinfer": HfinferGenerate,
        "huggingface_hub": HubGenerate,
        "httpx": HttpxGenerate,
    },
    "feature_extraction": {
        "hfinfer": HfinferEmbed,
        "huggingface_hub": HubEmbed,
        "httpx": HttpxEmbed,
    },
}


async def _make_hfinfer_async(base: str) -> AsyncAdapter:
    return HfinferAsyncClassify(base)


async def _make_hub_async(base: str) -> AsyncAdapter:
    return HubAsyncClassify(base)


async def _make_httpx_async(base: str) -> AsyncAdapter:
    return HttpxAsyncClassify(base)


ASYNC_FACTORIES: dict[str, AsyncFactory] = {
    "hfinfer": _make_hfinfer_async,
    "huggingface_hub": _make_hub_async,
    "httpx": _make_httpx_async,
}


async def run_concurrent(adapter: AsyncAdapter, n: int, concurrency: int) -> list[object]:
    """`n` calls, at most `concurrency` in flight (asyncio.gather behind a semaphore)."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> object:
        async with sem:
            return await adapter.once()

    return await asyncio.gather(*(one() for _ in range(n)))
