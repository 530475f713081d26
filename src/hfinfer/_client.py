"""The synchronous runtime client: sending, and the methods that are not tasks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from hfinfer._config import ClientConfig
from hfinfer._core import DEFAULT_MAX_RETRIES, ClientCore, check_max_retries
from hfinfer._encoding import is_url, raw_body
from hfinfer._engines import sync_http_client
from hfinfer._hub import (
    RECOMMENDED_TASKS,
    deployed_models,
    endpoint_info,
    frameworks_for,
    model_status,
    parse_json_response,
    recommended,
)
from hfinfer._jobs import Fetch, drive_sync, finish
from hfinfer._operation import Operation
from hfinfer._providers import check_provider
from hfinfer._retry import MAX_RETRY_WAIT
from hfinfer._sending import Outgoing, send_sync
from hfinfer._streams import Stream
from hfinfer.errors import BadRequestError

if TYPE_CHECKING:
    from typing_extensions import Self

    from hfinfer._generated.providers import Provider
    from hfinfer._status import ModelStatus

_RECOMMENDED_LOCK = threading.Lock()


class BaseInferenceClient(ClientCore):
    """Configuration, transport and the non-task methods of `InferenceClient`."""

    def __init__(
        self,
        model: str | None = None,
        *,
        token: str | bool | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        cookies: dict[str, str] | None = None,
        proxies: Any | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait: float = MAX_RETRY_WAIT,
        http_client: httpx.Client | None = None,
        trust_env: bool = True,
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
            trust_env: Honour `HTTP(S)_PROXY`, `NO_PROXY`, `SSL_CERT_FILE` (as requests does).
            http2: Speak HTTP/2 where the server offers it (needs `hfinfer[http2]`).
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
                bill_to=bill_to, engine="httpx",
            )
        )  # fmt: skip
        self._http: httpx.Client | None = http_client
        self._owns_http = http_client is None
        self._http_lock = threading.Lock()

    # -- transport -----------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """The persistent httpx client (created on first use)."""
        if self._http is None:
            with self._http_lock:
                if self._http is None:
                    self._http = sync_http_client(self._config)
        return self._http

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._http is not None and self._owns_http:
            self._http.close()
        self._http = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(
        self, out: Outgoing, *, stream: bool = False, max_retries: int | None = None
    ) -> httpx.Response:
        return send_sync(self.http, out, self._policy(max_retries), stream=stream)

    def _get(self, url: str) -> httpx.Response:
        return self._send(Outgoing("GET", url, self._headers(url)))

    # -- task calls ----------------------------------------------------------------------------

    def _run(
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
                lookup = self._send(self._mapping_outgoing(plan), max_retries=max_retries)
                self._store_mapping(plan, lookup)
            choice = None if plan is None else self._provider_choice(op, plan)
            fetched = {
                url: self._download(url, max_retries) for url in self._to_fetch(choice, urls)
            }
            candidate = None
            if choice is None:
                candidate = self._candidate(op, model) or self.get_recommended_model(
                    "text-generation" if op.route == "chat" else op.task
                )
            out = self._task_outgoing(op, model, prepared, fetched, extra, choice, candidate)
            try:
                if self._is_stream(op, prepared):
                    response = self._send(out, stream=True, max_retries=max_retries)
                    reshape = None if choice is None else self._event_reshaper(choice)
                    return Stream(
                        response,
                        self._event_decoder(op, response, prepared, reshape),
                        self._stream_failure(out.url),
                    )
                response = self._send(out, max_retries=max_retries)
                if choice is None:
                    return self._decode(op, response, prepared)
                call = self._finishing(op, choice, out, prepared, started, self._download_outgoing)
                return drive_sync(finish(call, response), self._fetcher(max_retries))
            except BadRequestError as error:
                if not self._learn_unsupported(op, model, error):
                    raise

    def _fetcher(self, max_retries: int | None) -> Callable[[Fetch], httpx.Response]:
        """How a provider call's program sends its polls and downloads: as this client sends."""

        def fetch(action: Fetch) -> httpx.Response:
            policy = self._policy(max_retries)
            if action.timeout is not None:
                policy = policy._replace(timeout=action.timeout)
            return send_sync(self.http, action.out, policy)

        return fetch

    def _download(self, url: str, max_retries: int | None = None) -> bytes:
        """Fetch an input given as a URL (no token is sent to arbitrary hosts)."""
        return self._send(self._download_outgoing(url), max_retries=max_retries).content

    # -- methods that are not tasks ------------------------------------------------------------

    @overload
    def post(
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
    def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: Literal[True],
        max_retries: int | None = None,
    ) -> Iterator[bytes]: ...
    def post(
        self,
        *,
        json: str | dict[str, Any] | list[Any] | None = None,
        data: Any = None,
        model: str | None = None,
        task: str | None = None,
        stream: bool = False,
        max_retries: int | None = None,
    ) -> bytes | Iterator[bytes]:
        """Send a raw request to a model or URL and return the raw body (or its lines).

        `json` is sent as JSON; `data` (bytes, a path, a URL or a file object) as the raw body,
        and wins when both are given. Errors are raised as for task methods. `max_retries`
        overrides the client's for this call.
        """
        candidate = self._post_candidate(model, task) or self.get_recommended_model(task or "")
        check_max_retries("post", max_retries)
        fetched = {data: self._download(data, max_retries)} if is_url(data) else {}
        out = self._post_outgoing(candidate, task, raw_body(json, data, fetched))
        if stream:
            return _iter_lines(self._send(out, stream=True, max_retries=max_retries))
        return self._send(out, max_retries=max_retries).content

    def health_check(self, model: str | None = None) -> bool:
        """True when the endpoint's `/health` answers 200 (TGI and TEI endpoints only)."""
        url = self._health_url(model)
        try:
            response = self.http.get(url, headers=self._headers(url))
        except (
            httpx.TransportError
        ):  # timeouts included: an endpoint that does not answer is not healthy
            return False
        return response.status_code == 200

    def get_endpoint_info(self, *, model: str | None = None) -> dict[str, Any]:
        """The `/info` of a TGI or TEI endpoint, as a dict."""
        return endpoint_info(self._get(self._info_url(model)))

    def get_model_status(self, model: str | None = None) -> ModelStatus:
        """The status of a model on the serverless Inference API."""
        response = self._get(self._status_url(model))
        return model_status(parse_json_response(response, "get_model_status()"), response)  # type: ignore[no-any-return]

    def list_deployed_models(
        self, frameworks: str | list[str] | None = None
    ) -> dict[str, list[str]]:
        """Models deployed on the serverless Inference API, by task."""
        answers = []
        for framework in frameworks_for(frameworks):
            response = self._get(self._framework_url(framework))
            answers.append((framework, parse_json_response(response, "list_deployed_models()")))
        return deployed_models(answers)

    def get_recommended_model(self, task: str) -> str:
        """The model Hugging Face recommends for `task` (fetched once per process)."""
        with _RECOMMENDED_LOCK:
            if not RECOMMENDED_TASKS:
                response = self._get(self._tasks_url())
                RECOMMENDED_TASKS.update(parse_json_response(response, "get_recommended_model()"))
        return recommended(task)


def _iter_lines(response: httpx.Response) -> Iterator[bytes]:
    try:
        for line in response.iter_lines():
            if line:
                yield line.encode("utf-8")
    finally:
        response.close()
