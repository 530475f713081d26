"""The asynchronous runtime client: sending, and the methods that are not tasks.

Nothing here blocks the event loop: waits use `asyncio.sleep`, the recommended-model lookup and
URL downloads go through the async transport, `list_deployed_models` fans out concurrently.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from hfinfer._config import ClientConfig
from hfinfer._core import DEFAULT_MAX_RETRIES, ClientCore, check_max_retries
from hfinfer._encoding import is_url, raw_body
from hfinfer._engines import Engine, async_http_client
from hfinfer._hub import (
    RECOMMENDED_TASKS,
    deployed_models,
    endpoint_info,
    frameworks_for,
    model_status,
    parse_json_response,
    recommended,
)
from hfinfer._jobs import Fetch, drive_async, finish
from hfinfer._operation import Operation
from hfinfer._providers import check_provider
from hfinfer._retry import MAX_RETRY_WAIT
from hfinfer._sending import Outgoing, send_async
from hfinfer._streams import AsyncStream
from hfinfer.errors import BadRequestError

if TYPE_CHECKING:
    from typing_extensions import Self

    from hfinfer._generated.providers import Provider
    from hfinfer._status import ModelStatus


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
        max_retry_wait: float = MAX_RETRY_WAIT,
        http_client: httpx.AsyncClient | None = None,
        engine: Engine = "aiohttp",
        http2: bool = False,
        limits: httpx.Limits | None = None,
        provider: Provider | None = None,
        bill_to: str | None = None,
    ) -> None:
        """Configure the client; nothing is sent and no connection is opened until the first call.

        Args:
            model: A model id on the Hub or the URL of an endpoint or server (default for calls).
            token: A token (str); False to send none; None for `HF_TOKEN` or the token file,
                sent only to Hugging Face hosts. `api_key` is an alias.
            timeout: Seconds for the whole call, waits included; None waits forever.
            headers: Headers sent with every request (they win over hfinfer's own).
            cookies: Cookies sent with every request.
            proxies: A proxy URL or a dict like {"https": "http://proxy:3128"}; wins over the env.
            base_url: OpenAI-style alias of `model`, for chat (`.../v1`).
            max_retries: Retries of connection errors and 408/429/5xx answers (0 disables).
            max_retry_wait: The longest `Retry-After` to sleep on; above it the call fails at once.
            http_client: Your own httpx client to send with (hfinfer then never closes it).
            trust_env: Honour `HTTP(S)_PROXY`, `NO_PROXY`, `SSL_CERT_FILE` (default False, as
                the reference's async client).
            engine: "aiohttp" (default) or "httpx": the HTTP engine beneath httpx's API.
            http2: Speak HTTP/2 where the server offers it (engine="httpx" and `hfinfer[http2]`).
            limits: Bounds of the connection pool (`httpx.Limits`).
            provider: An Inference Provider (`hfinfer.Provider`: a name of the generated table,
                or "auto"). A Hugging Face token (hf_...) goes through the router, any other key
                straight to the provider. None: "auto" for a Hub model id, unless the model is a
                URL, `base_url` is given or `HF_INFERENCE_ENDPOINT` is set (then as before).
            bill_to: An organization to bill (the `X-HF-Bill-To` header, on every request).
        """
        check_provider(type(self).__name__, provider)
        super().__init__(
            ClientConfig.build(
                model, token=token, api_key=api_key, timeout=timeout, headers=headers, cookies=cookies,
                proxies=proxies, base_url=base_url, trust_env=trust_env, max_retries=max_retries,
                max_retry_wait=max_retry_wait, http2=http2, limits=limits, provider=provider,
                bill_to=bill_to, engine=engine,
            )
        )  # fmt: skip
        self._http: httpx.AsyncClient | None = http_client
        self._owns_http = http_client is None

    @property
    def trust_env(self) -> bool:
        return self._config.trust_env

    @property
    def engine(self) -> Engine:
        """The HTTP engine beneath httpx: "aiohttp" (default) or "httpx"."""
        return "httpx" if self._config.engine == "httpx" else "aiohttp"

    # -- transport -----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.AsyncClient:
        """The persistent httpx async client (created on first use)."""
        if self._http is None:
            self._http = async_http_client(self._config)
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

    async def _send(
        self, out: Outgoing, *, stream: bool = False, max_retries: int | None = None
    ) -> httpx.Response:
        return await send_async(self.http, out, self._policy(max_retries), stream=stream)

    async def _get(self, url: str) -> httpx.Response:
        return await self._send(Outgoing("GET", url, self._headers(url)))

    # -- task calls ----------------------------------------------------------------------------

    async def _run(
        self,
        op: Operation,
        model: str | None,
        values: tuple[Any, ...],
        extra: Mapping[str, Any] | None = None,
        *,
        max_retries: int | None = None,
    ) -> Any:
        check_max_retries(op.method, max_retries)
        started = time.monotonic()
        while True:
            prepared, urls = self._begin(op, model, values)
            plan = self._provider_plan(op, model)
            if plan is not None and plan.lookup is not None:
                lookup = await self._send(self._mapping_outgoing(plan), max_retries=max_retries)
                self._store_mapping(plan, lookup)
            choice = None if plan is None else self._provider_choice(op, plan)
            fetched = {
                url: await self._download(url, max_retries) for url in self._to_fetch(choice, urls)
            }
            candidate = None
            if choice is None:
                candidate = self._candidate(op, model) or await self.get_recommended_model(
                    "text-generation" if op.route == "chat" else op.task
                )
            out = self._task_outgoing(op, model, prepared, fetched, extra, choice, candidate)
            try:
                if self._is_stream(op, prepared):
                    response = await self._send(out, stream=True, max_retries=max_retries)
                    reshape = None if choice is None else self._event_reshaper(choice)
                    return AsyncStream(
                        response,
                        self._event_decoder(op, response, prepared, reshape),
                        self._stream_failure(out.url),
                    )
                response = await self._send(out, max_retries=max_retries)
                if choice is None:
                    return self._decode(op, response, prepared)
                call = self._finishing(op, choice, out, prepared, started, self._download_outgoing)
                return await drive_async(finish(call, response), self._fetcher(max_retries))
            except BadRequestError as error:
                if not self._learn_unsupported(op, model, error):
                    raise

    def _fetcher(self, max_retries: int | None) -> Callable[[Fetch], Awaitable[httpx.Response]]:
        """How a provider call's program sends its polls and downloads: as this client sends."""

        async def fetch(action: Fetch) -> httpx.Response:
            policy = self._policy(max_retries)
            if action.timeout is not None:
                policy = policy._replace(timeout=action.timeout)
            return await send_async(self.http, action.out, policy)

        return fetch

    async def _download(self, url: str, max_retries: int | None = None) -> bytes:
        return (await self._send(self._download_outgoing(url), max_retries=max_retries)).content

    # -- methods that are not tasks ------------------------------------------------------------

    @overload
    async def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: Literal[False] = False,
        max_retries: int | None = None,
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
        max_retries: int | None = None,
    ) -> AsyncIterator[bytes]: ...
    async def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: bool = False,
        max_retries: int | None = None,
    ) -> bytes | AsyncIterator[bytes]:
        """Send a raw request to a model or URL and return the raw body (or its lines).

        As `InferenceClient.post`; `max_retries` overrides the client's for this call.
        """
        candidate = self._post_candidate(model, task) or await self.get_recommended_model(
            task or ""
        )
        check_max_retries("post", max_retries)
        fetched = {data: await self._download(data, max_retries)} if is_url(data) else {}
        out = self._post_outgoing(candidate, task, raw_body(json, data, fetched))
        if stream:
            return _aiter_lines(await self._send(out, stream=True, max_retries=max_retries))
        return (await self._send(out, max_retries=max_retries)).content

    async def health_check(self, model: str | None = None) -> bool:
        """True when the endpoint's `/health` answers 200 (TGI and TEI endpoints only)."""
        url = self._health_url(model)
        try:
            response = await self.http.get(url, headers=self._headers(url))
        except (
            httpx.TransportError
        ):  # timeouts included: an endpoint that does not answer is not healthy
            return False
        return response.status_code == 200

    async def get_endpoint_info(self, *, model: str | None = None) -> dict[str, Any]:
        """The `/info` of a TGI or TEI endpoint, as a dict."""
        return endpoint_info(await self._get(self._info_url(model)))

    async def get_model_status(self, model: str | None = None) -> ModelStatus:
        """The status of a model on the serverless Inference API."""
        response = await self._get(self._status_url(model))
        return model_status(parse_json_response(response, "get_model_status()"), response)  # type: ignore[no-any-return]

    async def list_deployed_models(
        self, frameworks: str | list[str] | None = None
    ) -> dict[str, list[str]]:
        """Models deployed on the serverless Inference API, by task (fetched concurrently)."""
        names = frameworks_for(frameworks)
        import asyncio  # imported on use: `import hfinfer` stays light

        responses = await asyncio.gather(*(self._get(self._framework_url(fw)) for fw in names))
        return deployed_models(
            [
                (fw, parse_json_response(r, "list_deployed_models()"))
                for fw, r in zip(names, responses, strict=True)
            ]
        )

    async def get_recommended_model(self, task: str) -> str:
        """The model Hugging Face recommends for `task` (fetched once per process)."""
        if not RECOMMENDED_TASKS:  # no lock: a concurrent first call at worst fetches it twice
            response = await self._get(self._tasks_url())
            RECOMMENDED_TASKS.update(parse_json_response(response, "get_recommended_model()"))
        return recommended(task)


async def _aiter_lines(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for line in response.aiter_lines():
            if line:
                yield line.encode("utf-8")
    finally:
        await response.aclose()
