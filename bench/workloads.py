"""What the benchmark measures: the clients, the workloads, their expected results and checks.

No client library is imported here (nor in the adapter modules at import time), so that a process
measuring one client never imports the others, and so that this module also loads in the second
venv that holds huggingface_hub 0.26 (see bench/README.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import server as srv

TEXT = "I love this"
MESSAGES = [{"role": "user", "content": "Hello, who are you?"}]
PROMPT = "Once upon a time"
EMBED_TEXT = "Today is a sunny day and I will get some ice cream."
JSON_HEADERS = {"content-type": "application/json"}


# --------------------------------------------------------------------------------------------
# Clients


@dataclass(frozen=True)
class Client:
    key: str
    label: str
    module: str
    """The distribution whose version is recorded, and the module memprobe imports first."""
    remote: bool = False
    """Runs in the second venv (huggingface_hub 0.26), through bench/runners.py's worker."""


CLIENTS: dict[str, Client] = {
    c.key: c
    for c in (
        # Sync: httpx's own transport. Async: engine="aiohttp" (the default), passed explicitly.
        Client("hfinfer", "hfinfer", "hfinfer"),
        Client("hfinfer_httpx", "hfinfer engine=httpx", "hfinfer"),
        Client("httpx", "bare httpx", "httpx"),
        Client("aiohttp", "bare aiohttp", "aiohttp"),
        Client("hub_old", "huggingface_hub 0.26", "huggingface_hub", remote=True),
        Client("hub", "huggingface_hub latest", "huggingface_hub"),
        Client("openai", "openai", "openai"),
    )
}

IMPORTS = {
    "hfinfer": "from hfinfer import InferenceClient, AsyncInferenceClient",
    "httpx": "import httpx",
    "aiohttp": "import aiohttp",
    "hub_old": "from huggingface_hub import InferenceClient, AsyncInferenceClient",
    "hub": "from huggingface_hub import InferenceClient, AsyncInferenceClient",
    "openai": "from openai import OpenAI, AsyncOpenAI",
}
"""The import statement timed for each library (hfinfer_httpx is the same import as hfinfer)."""

LIBS = ("hfinfer", "huggingface_hub")
"""Clients with the InferenceClient API; huggingface_hub 0.26 and latest share their adapters."""

SYNC_CLIENTS = ("hfinfer", "httpx", "hub_old", "hub")
ASYNC_CLIENTS = ("hfinfer", "hfinfer_httpx", "aiohttp", "httpx", "hub_old", "hub")
OPENAI_WORKLOADS = ("chat_completion", "chat_completion_stream")
"""openai-python runs only the chat workloads (it has no task routes)."""


def clients_for(workload: str, mode: str) -> tuple[str, ...]:
    base = SYNC_CLIENTS if mode == "sync" else ASYNC_CLIENTS
    return (*base, "openai") if workload in OPENAI_WORKLOADS else base


# --------------------------------------------------------------------------------------------
# Workloads


@dataclass(frozen=True)
class Spec:
    """One row of the report.

    mode: "sync" (persistent client, calls in a loop), "seq" (async, persistent client, one call
    at a time) or "concurrent" (async, a fresh client per round, `ops` calls through
    asyncio.gather behind a semaphore of `concurrency`).
    """

    key: str
    workload: str
    mode: str
    title: str
    unit: str
    units_per_op: int
    ops: int
    clients: tuple[str, ...]
    concurrency: int = 1


def build_specs(scale: float, chunks: int, dim: int) -> list[Spec]:
    def n(base: int) -> int:
        return max(1, round(base * scale))

    def spec(
        workload: str, mode: str, title: str, unit: str, per: int, ops: int, c: int = 1
    ) -> Spec:
        key = workload if mode == "sync" else f"async_{workload}" + (f"_c{c}" if c > 1 else "")
        return Spec(key, workload, mode, title, unit, per, ops, clients_for(workload, mode), c)

    tc, chat = "text_classification", "chat_completion"
    specs = [
        spec(tc, "sync", f'text_classification("{TEXT}") ×{n(1000)}', "calls/s", 1, n(1000)),
        spec(chat, "sync", f"chat_completion(messages) ×{n(1000)}", "calls/s", 1, n(1000)),
        spec(
            "chat_completion_stream",
            "sync",
            f"chat_completion(stream=True), {chunks} chunks ×{n(5)}",
            "chunks/s",
            chunks,
            n(5),
        ),
        spec(
            "text_generation_stream",
            "sync",
            f"text_generation(stream=True), {chunks} tokens ×{n(5)}",
            "tokens/s",
            chunks,
            n(5),
        ),
        spec(
            "feature_extraction",
            "sync",
            f"feature_extraction → ndarray[{dim}] ×{n(1000)}",
            "calls/s",
            1,
            n(1000),
        ),
        spec(
            tc, "seq", f"async text_classification ×{n(1000)}, one at a time", "calls/s", 1, n(1000)
        ),
        spec(
            chat, "seq", f"async chat_completion ×{n(1000)}, one at a time", "calls/s", 1, n(1000)
        ),
    ]
    # text_classification at 64 as before; chat (which openai can run too) at 64 and 256.
    # 600 calls a round (at least two waves, also in a --quick run): through httpx's async pool
    # (bare httpx, engine=httpx, openai) a round at 256 takes ~10 s on 2 cores.
    for w, c in ((tc, 64), (chat, 64), (chat, 256)):
        ops = max(n(600), 2 * c)
        specs.append(
            spec(w, "concurrent", f"async {w} ×{ops}, concurrency {c}", "requests/s", 1, ops, c)
        )
    return specs


# --------------------------------------------------------------------------------------------
# Expected results


def labels(out: Any) -> list[tuple[str, float]]:
    # Against a flat list (TEI's format) huggingface_hub returns only the first element.
    return [(e.label, e.score) for e in (out if isinstance(out, list) else [out])]


def labels_json(data: Any) -> list[tuple[str, float]]:
    items = data[0] if data and isinstance(data[0], list) else data
    return [(d["label"], d["score"]) for d in items]


def expected_labels() -> list[tuple[str, float]]:
    return labels_json(srv.CLASSIFY_RESULT)


def expected_chat_stream(chunks: int) -> list[str]:
    return [srv.chat_chunk_text(i) for i in range(chunks)]


def expected_tokens(chunks: int) -> list[str]:
    return [srv.token_text(i) for i in range(chunks)]


def check_embedding(value: object, dim: int) -> str | None:
    import numpy

    if not isinstance(value, numpy.ndarray):
        return f"not an ndarray: {type(value).__name__}"
    if value.dtype != numpy.float32:
        return f"dtype {value.dtype}, expected float32"
    expected = numpy.array(srv.embedding(dim), dtype=numpy.float32)
    if value.size != dim or not numpy.array_equal(value.reshape(-1), expected):
        return f"values differ (shape {value.shape})"
    return None


Check = Callable[[object], "str | None"]


def checker(workload: str, chunks: int, dim: int) -> Check:
    """The check of one result of `workload`: None when right, else what is wrong."""
    if workload == "feature_extraction":
        return lambda value: check_embedding(value, dim)
    expected: object = {
        "text_classification": expected_labels(),
        "chat_completion": srv.CHAT_CONTENT,
        "chat_completion_stream": expected_chat_stream(chunks),
        "text_generation_stream": expected_tokens(chunks),
    }[workload]

    def check(value: object) -> str | None:
        return None if value == expected else f"unexpected result: {repr(value)[:200]}"

    return check


# --------------------------------------------------------------------------------------------
# Adapters


class SyncAdapter(Protocol):
    def once(self) -> object: ...

    def close(self) -> None: ...


class AsyncAdapter(Protocol):
    async def once(self) -> object: ...

    async def close(self) -> None: ...


async def run_concurrent(adapter: AsyncAdapter, n: int, concurrency: int) -> list[object]:
    """`n` calls, at most `concurrency` in flight (asyncio.gather behind a semaphore)."""
    sem = asyncio.Semaphore(concurrency)

    async def one() -> object:
        async with sem:
            return await adapter.once()

    return await asyncio.gather(*(one() for _ in range(n)))


def rotation(r: int, keys: Sequence[str]) -> list[str]:
    """Round r's order: A,B,C, then B,C,A, then C,A,B, …"""
    k = r % len(keys)
    return [*keys[k:], *keys[:k]]
