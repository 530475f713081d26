"""A loopback inference server for the batch tests (aiohttp, in a thread of the test process).

Routes (any of them also under a prefix, so a test can give each method its own URL):
- `POST /embed` → `[[len(text), sum(map(ord, text)) % 997]]` (TEI-style, one vector per input);
- `POST /classify` → `[[{"label": "LONG" | "SHORT", "score": len/100}]]`;
- `POST /image` → a PNG;
- `POST /v1/chat/completions` → an OpenAI chat completion echoing the last message.

An input text may ask for a fault: `status=NNN` answers NNN every time, `flaky` answers 503 on
its first request only. Every request is counted per input text; `max_in_flight` is recorded.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
from collections import Counter
from typing import Any

from aiohttp import web

_STATUS = re.compile(r"status=(\d{3})")


def expected_embedding(text: str) -> list[list[float]]:
    return [[float(len(text)), float(sum(map(ord, text)) % 997)]]


def expected_label(text: str) -> str:
    return "LONG" if len(text) > 5 else "SHORT"


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), (255, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


class BatchServer:
    """Start with `BatchServer(delay=…).start()`; stop with `.stop()` (the tests' handle)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.counts: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.port = 0
        self._png = _png()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> BatchServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def answered_twice(self) -> int:
        return sum(count - 1 for count in self.counts.values() if count > 1)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body: Any = await request.json()
        path = request.path
        if path.endswith("/chat/completions"):
            text = str(body["messages"][-1]["content"])
        else:
            text = body["inputs"] if isinstance(body.get("inputs"), str) else json.dumps(body)
        self.counts[text] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(path, text, body)
        finally:
            self.in_flight -= 1

    def _answer(self, path: str, text: str, body: Any) -> web.StreamResponse:
        fault = _STATUS.search(text)
        if fault:
            status = int(fault.group(1))
            return web.json_response({"error": f"asked for {status}"}, status=status)
        if "flaky" in text and self.counts[text] == 1:
            return web.json_response({"error": "try again"}, status=503)
        if path.endswith("/embed"):
            return web.json_response(expected_embedding(text))
        if path.endswith("/classify"):
            return web.json_response([[{"label": expected_label(text), "score": len(text) / 100}]])
        if path.endswith("/image"):
            return web.Response(body=self._png, content_type="image/png")
        if path.endswith("/chat/completions"):
            return web.json_response(
                {
                    "id": "cmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "tgi"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": f"echo: {text}"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
            )
        return web.json_response({"error": f"no route {path}"}, status=404)
