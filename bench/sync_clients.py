"""Sync adapters: the call a user makes with each client, reading the result's fields.

Each adapter returns the same plain value (labels and scores, the message text, the list of
streamed texts, the array) so that the harness can check it. hfinfer and huggingface_hub share
one API, so one adapter class serves hfinfer, huggingface_hub latest and huggingface_hub 0.26
(which runs in its own venv). Libraries are imported in the constructors; they are typed `Any`
here so that this module also loads where one of them is absent.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

import server as srv
import workloads as wl

STATUS_OK = 200


def _lib(client: str) -> Any:
    return importlib.import_module("hfinfer" if client == "hfinfer" else "huggingface_hub")


def _close(client: Any) -> None:
    close = getattr(client, "close", None)  # huggingface_hub 0.26's sync client has none
    if close is not None:
        close()


# --------------------------------------------------------------------------------------------
# hfinfer and huggingface_hub (latest and 0.26): InferenceClient


class LibClassify:
    def __init__(self, client: str, base: str, path: str = srv.CLASSIFY) -> None:
        self.client = _lib(client).InferenceClient(model=base + path)

    def once(self) -> object:
        return wl.labels(self.client.text_classification(wl.TEXT))

    def close(self) -> None:
        _close(self.client)


class LibChat:
    def __init__(self, client: str, base: str) -> None:
        self.client = _lib(client).InferenceClient(base_url=base + "/chat")

    def once(self) -> object:
        return self.client.chat_completion(wl.MESSAGES).choices[0].message.content

    def close(self) -> None:
        _close(self.client)


class LibChatStream:
    def __init__(self, client: str, base: str) -> None:
        self.client = _lib(client).InferenceClient(base_url=base + "/chatstream")

    def once(self) -> object:
        stream = self.client.chat_completion(wl.MESSAGES, stream=True)
        return [c.choices[0].delta.content for c in stream]

    def close(self) -> None:
        _close(self.client)


class LibGenerate:
    def __init__(self, client: str, base: str) -> None:
        self.client = _lib(client).InferenceClient(model=base + srv.GENERATE)

    def once(self) -> object:
        return list(self.client.text_generation(wl.PROMPT, stream=True))

    def close(self) -> None:
        _close(self.client)


class LibEmbed:
    def __init__(self, client: str, base: str) -> None:
        self.client = _lib(client).InferenceClient(model=base + srv.EMBED)

    def once(self) -> object:
        return self.client.feature_extraction(wl.EMBED_TEXT)

    def close(self) -> None:
        _close(self.client)


# --------------------------------------------------------------------------------------------
# Bare httpx: a persistent httpx.Client; encode, send, check the status, json.loads, read


class _Httpx:
    def __init__(self, url: str) -> None:
        import httpx

        self.client = httpx.Client()
        self.url = url

    def post(self, payload: object) -> Any:
        body = json.dumps(payload).encode()
        r = self.client.post(self.url, content=body, headers=wl.JSON_HEADERS)
        if r.status_code != STATUS_OK:
            raise RuntimeError(f"HTTP {r.status_code}")
        return json.loads(r.content)

    def events(self, payload: object) -> list[Any]:
        """The `data:` events of a streamed response, decoded (up to `[DONE]`)."""
        body = json.dumps(payload).encode()
        out: list[Any] = []
        with self.client.stream("POST", self.url, content=body, headers=wl.JSON_HEADERS) as r:
            if r.status_code != STATUS_OK:
                raise RuntimeError(f"HTTP {r.status_code}")
            for line in r.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    continue  # read on to the end, so that the connection is kept
                out.append(json.loads(data))
        return out

    def close(self) -> None:
        self.client.close()


class HttpxClassify(_Httpx):
    def __init__(self, base: str, path: str = srv.CLASSIFY) -> None:
        super().__init__(base + path)

    def once(self) -> object:
        return wl.labels_json(self.post({"inputs": wl.TEXT}))


class HttpxChat(_Httpx):
    def __init__(self, base: str) -> None:
        super().__init__(base + srv.CHAT)

    def once(self) -> object:
        return self.post({"model": "tgi", "messages": wl.MESSAGES})["choices"][0]["message"][
            "content"
        ]


class HttpxChatStream(_Httpx):
    def __init__(self, base: str) -> None:
        super().__init__(base + srv.CHAT_STREAM)

    def once(self) -> object:
        events = self.events({"model": "tgi", "messages": wl.MESSAGES, "stream": True})
        return [e["choices"][0]["delta"]["content"] for e in events]


class HttpxGenerate(_Httpx):
    def __init__(self, base: str) -> None:
        super().__init__(base + srv.GENERATE)

    def once(self) -> object:
        events = self.events({"inputs": wl.PROMPT, "parameters": {}, "stream": True})
        return [e["token"]["text"] for e in events]


class HttpxEmbed(_Httpx):
    def __init__(self, base: str) -> None:
        import numpy

        super().__init__(base + srv.EMBED)
        self.np = numpy

    def once(self) -> object:
        return self.np.array(self.post({"inputs": wl.EMBED_TEXT}), dtype=self.np.float32)


# --------------------------------------------------------------------------------------------
# openai-python: client.chat.completions.create against the server's OpenAI-compatible route
# (it appends /chat/completions to base_url, as the server's /chat/v1/chat/completions expects)


def openai_client(base_url: str) -> Any:
    openai: Any = importlib.import_module("openai")
    return openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)


class OpenaiChat:
    def __init__(self, base: str) -> None:
        self.client = openai_client(base + "/chat/v1")

    def once(self) -> object:
        out = self.client.chat.completions.create(model="tgi", messages=wl.MESSAGES)
        return out.choices[0].message.content

    def close(self) -> None:
        self.client.close()


class OpenaiChatStream:
    def __init__(self, base: str) -> None:
        self.client = openai_client(base + "/chatstream/v1")

    def once(self) -> object:
        stream = self.client.chat.completions.create(model="tgi", messages=wl.MESSAGES, stream=True)
        return [c.choices[0].delta.content for c in stream]

    def close(self) -> None:
        self.client.close()


# --------------------------------------------------------------------------------------------
# Registry: workload → client → factory(base)

LIB_ADAPTERS: dict[str, Callable[[str, str], wl.SyncAdapter]] = {
    "text_classification": LibClassify,
    "chat_completion": LibChat,
    "chat_completion_stream": LibChatStream,
    "text_generation_stream": LibGenerate,
    "feature_extraction": LibEmbed,
}
OTHER_ADAPTERS: dict[str, dict[str, Callable[[str], wl.SyncAdapter]]] = {
    "httpx": {
        "text_classification": HttpxClassify,
        "chat_completion": HttpxChat,
        "chat_completion_stream": HttpxChatStream,
        "text_generation_stream": HttpxGenerate,
        "feature_extraction": HttpxEmbed,
    },
    "openai": {"chat_completion": OpenaiChat, "chat_completion_stream": OpenaiChatStream},
}


def make(client: str, workload: str, base: str) -> wl.SyncAdapter:
    if client in ("hfinfer", "hub", "hub_old"):
        return LIB_ADAPTERS[workload](client, base)
    return OTHER_ADAPTERS[client][workload](base)
