"""The asynchronous runtime client: sending, and the methods that are not tasks.

Nothing here blocks the event loop: waits use `asyncio.sleep`, the recommended-model lookup and
URL downloads go through the async transport, `list_deployed_models` fans out concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Literal, overload

import httpx
from typing_extensions import Self

from hfinfer import _client, _routing
from hfinfer._config import ClientConfig
from hfinfer._core import (
    DEFAULT_MAX_RETRIES,
    ClientCore,
    deployed_models,
    frameworks_for,
    model_status,
    parse_json_response,
    recommended_from,
)
from hfinfer._encoding import Body, jsonable, read_binary
from hfinfer._operation import Operation
from hfinfer._status import ModelStatus
from hfinfer._streams import AsyncStream
from hfinfer._transport import Outgoing, proxy_mounts, send_async
from hfinfer.errors import BadRequestError


class _AsyncCompletions:
    def __init__(self, client: AsyncBaseInferenceClient) -> None:
        self.create = client.chat_completion  # type: ignore[attr-defined]


class _AsyncChat:
    def __init__(self, client: AsyncBaseInferenceClient) -> None:
        self.completions = _AsyncCompletions(client)


class AsyncBaseInferenceClient(ClientCore):
    """Configuration, transport and the non-task methods of `AsyncInferenceClient`."""

    def __init__(
        self,
        model: str | None = None,
        *,
        token: str | bool | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        trust_env: bool = False,
        proxies: Any | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            ClientConfig.build(
                model, token=token, api_key=api_key, timeout=timeout, headers=headers, cookies=cookies,
                proxies=proxies, base_url=base_url, trust_env=trust_env, max_retries=max_retries,
            )
        )  # fmt: skip
        self._http: httpx.AsyncClient | None = http_client
        self._owns_http = http_client is None

    @property
    def trust_env(self) -> bool:
        return self._config.trust_env

    # -- transport -----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        """The persistent httpx async client (created on first use)."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                cookies=dict(self._config.cookies or {}),
                mounts=proxy_mounts(self._config.proxies, is_async=True),  # type: ignore[arg-type]
                trust_env=self._config.trust_env,
                follow_redirects=False,
                timeout=httpx.Timeout(self._config.timeout),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
            )
        return self._http

    async def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._http is not None and self._owns_http:
            await self._http.aclose()
        self._http = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _send(self, out: Outgoing, *, stream: bool = False) -> httpx.Response:
        return await send_async(
            self.http,
            out,
            timeout=self._config.timeout,
            max_retries=self._config.max_retries,
            stream=stream,
        )

    async def _get(self, url: str) -> httpx.Response:
        return await self._send(Outgoing("GET", url, self._headers(url)))

    # -- task calls ----------------------------------------------------------------------------

    async def _run(
        self,
        op: Operation,
        model: str | None,
        values: tuple[Any, ...],
        extra: Mapping[str, Any] | None = None,
    ) -> Any:
        while True:
            prepared, urls = self._begin(op, model, values)
            fetched = {url: await self._download(url) for url in urls}
            candidate = self._candidate(op, model) or await self.get_recommended_model(
                "text-generation" if op.route == "chat" else op.task
            )
            url = self._url(op, candidate)
            out = self._outgoing(op, url, self._body(op, model, prepared, fetched, extra))
            try:
                if self._is_stream(op, prepared):
                    response = await self._send(out, stream=True)
                    return AsyncStream(
                        response,
                        self._event_decoder(op, response, prepared),
                        self._stream_failure(url),
                    )
                return self._decode(op, await self._send(out), prepared)
            except BadRequestError as error:
                if not self._learn_unsupported(op, model, error):
                    raise

    async def _download(self, url: str) -> bytes:
        return (
            await self._send(
                Outgoing("GET", url, {"user-agent": self._config.headers["user-agent"]})
            )
        ).content

    # -- methods that are not tasks ------------------------------------------------------------

    @property
    def chat(self) -> _AsyncChat:
        """OpenAI-style alias: `await client.chat.completions.create(...)`."""
        return _AsyncChat(self)

    @overload
    async def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: Literal[False] = False,
    ) -> bytes: ...
    @overload
    async def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: Literal[True],
    ) -> AsyncIterator[bytes]: ...
    async def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: bool = False,
    ) -> bytes | AsyncIterator[bytes]:
        """Send a raw request to a model or URL and return the raw body (or its lines)."""
        candidate = model or self._config.model or self._config.base_url
        if candidate is None:
            if task is None:
                raise ValueError(
                    "You must specify at least a model (repo_id or URL) or a task, either when instantiating `AsyncInferenceClient` or when making a request."
                )
            candidate = await self.get_recommended_model(task)
        url = _routing.task_url(
            self._config,
            candidate,
            task or "",
            "pipeline" if task in ("feature-extraction", "sentence-similarity") else "task",
        )
        if data is not None:
            if json is not None:
                warnings.warn(
                    "Ignoring `json` as `data` is passed as binary.", UserWarning, stacklevel=2
                )
            fetched = (
                {data: await self._download(data)}
                if isinstance(data, str) and _routing.is_url(data)
                else {}
            )
            body = Body(content=read_binary("post", "data", data, fetched))
        else:
            body = Body(json=jsonable(json)) if json is not None else Body()
        accept = "image/png" if task in ("text-to-image", "image-to-image") else None
        out = Outgoing(
            "POST",
            url,
            self._headers(url, accept),
            body,
            task=task,
            wait_header=url.startswith(self._config.inference_endpoint),
        )
        if stream:
            return _aiter_lines(await self._send(out, stream=True))
        return (await self._send(out)).content

    async def health_check(self, model: str | None = None) -> bool:
        """True when the endpoint's `/health` answers 200 (TGI and TEI endpoints only)."""
        url = model or self._config.model or self._config.base_url
        if url is None or not _routing.is_url(url):
            raise ValueError(
                "Model must be an Inference Endpoint URL. For serverless Inference API, please use AsyncInferenceClient.get_model_status."
            )
        target = url.rstrip("/") + "/health"
        try:
            response = await self.http.get(target, headers=self._headers(target))
        except httpx.TransportError:
            return False
        return response.status_code == 200

    async def get_endpoint_info(self, *, model: str | None = None) -> dict[str, Any]:
        """The `/info` of a TGI or TEI endpoint, as a dict."""
        model = model or self._config.model or self._config.base_url
        if model is None:
            raise ValueError("Model id not provided.")
        url = (
            model.rstrip("/") + "/info"
            if _routing.is_url(model)
            else f"{self._config.inference_endpoint}/models/{model}/info"
        )
        data = parse_json_response(await self._get(url), "get_endpoint_info()")
        if not isinstance(data, dict):
            raise ValueError("get_endpoint_info(): expected a JSON object")
        return data

    async def get_model_status(self, model: str | None = None) -> ModelStatus:
        """The status of a model on the serverless Inference API."""
        model = model or self._config.model
        if model is None:
            raise ValueError("Model id not provided.")
        if _routing.is_url(model):
            raise NotImplementedError("Model status is only available for Inference API endpoints.")
        response = await self._get(f"{self._config.inference_endpoint}/status/{model}")
        return model_status(parse_json_response(response, "get_model_status()"), response)  # type: ignore[no-any-return]

    async def list_deployed_models(
        self, frameworks: str | list[str] | None = None
    ) -> dict[str, list[str]]:
        """Models deployed on the serverless Inference API, by task (fetched concurrently)."""
        names = frameworks_for(frameworks)
        responses = await asyncio.gather(
            *(self._get(f"{self._config.inference_endpoint}/framework/{fw}") for fw in names)
        )
        return deployed_models(
            [
                (fw, parse_json_response(r, "list_deployed_models()"))
                for fw, r in zip(names, responses, strict=True)
            ]
        )

    async def get_recommended_model(self, task: str) -> str:
        """The model Hugging Face recommends for `task` (fetched once per process)."""
        cache = _client._RECOMMENDED_TASKS
        if not cache:  # no lock: a concurrent first call at worst fetches the list twice
            response = await self._get(f"{self._config.hub_endpoint}/api/tasks")
            cache.update(parse_json_response(response, "get_recommended_model()"))
        model = recommended_from(cache, task)
        logging.getLogger("hfinfer").info(
            "Using recommended model %s for task %s. Pin a model to avoid surprises.", model, task
        )
        return model


async def _aiter_lines(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for line in response.aiter_lines():
            if line:
                yield line.encode("utf-8")
    finally:
        await response.aclose()
