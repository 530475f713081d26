"""What the sync and async clients share: configuration and the pure steps of a call.

Building a request and decoding a response are the same for both flavours; only sending differs
(`_client.py`, `_async_client.py`).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import httpx

from hfinfer import _routing
from hfinfer._config import ClientConfig
from hfinfer._decoding import DecodeFailure, decode_response, decoder_for, select
from hfinfer._encoding import Body, build_body, urls_to_fetch
from hfinfer._http_errors import stream_error
from hfinfer._model import InferenceType
from hfinfer._operation import Operation
from hfinfer._provider_calls import ProviderSteps
from hfinfer._providers import Binary, Choice
from hfinfer._sending import Outgoing, Policy
from hfinfer._validation import validate, without_ineffective
from hfinfer.errors import (
    BadRequestError,
    InferenceConnectionError,
    InferenceDecodeError,
    InferenceInputError,
    InferenceTimeoutError,
)

logger = logging.getLogger("hfinfer")

_UNUSED_KWARGS = re.compile(r"The following `model_kwargs` are not used by the model: \[(.*?)\]")
DEFAULT_MAX_RETRIES = 2
_CACHE_SIZE = 64


class ClientCore(ProviderSteps):
    """Configuration plus the pure parts of every call (provider steps in `_provider_calls`)."""

    _config: ClientConfig

    def __init__(self, config: ClientConfig) -> None:
        self._config = config
        self._policies: dict[int | None, Policy] = {}
        self._url_headers: dict[tuple[str, str | None], tuple[Mapping[str, str], bool, bool]] = {}
        # Parameters a non-TGI text-generation server rejected, per model (per client, not global).
        self._unsupported: dict[str | None, set[str]] = {}

    # -- public read-only view ---------------------------------------------------------------

    @property
    def model(self) -> str | None:
        return self._config.model

    @property
    def base_url(self) -> str | None:
        return self._config.base_url

    @property
    def provider(self) -> str | None:
        """The Inference Provider of the calls ("auto" or a name), or None (see the README)."""
        return self._config.provider

    @property
    def timeout(self) -> float | None:
        return self._config.timeout

    @property
    def headers(self) -> dict[str, str]:
        """Headers sent with every request (the token is never shown here)."""
        return dict(self._config.headers)

    @property
    def cookies(self) -> Mapping[str, str] | None:
        return self._config.cookies

    @property
    def proxies(self) -> Any:
        return self._config.proxies

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(model={self._config.model or self._config.base_url!r}, timeout={self._config.timeout!r})>"

    def _policy(self, max_retries: int | None) -> Policy:
        """The waits a call may take: the client's, with a per-call `max_retries`."""
        found = self._policies.get(max_retries)
        if found is None:
            config = self._config
            found = Policy(
                timeout=config.timeout,
                max_retries=config.max_retries if max_retries is None else max_retries,
                max_retry_wait=config.max_retry_wait,
            )
            if len(self._policies) < _CACHE_SIZE:
                self._policies[max_retries] = found
        return found

    # -- routing and headers -------------------------------------------------------------------

    def _target(self, model: str | None) -> str | None:
        """The call's model, else the client's model or base URL (every route but chat)."""
        return model or self._config.model or self._config.base_url

    def _candidate(self, op: Operation, model: str | None) -> str | None:
        if op.route == "chat":
            return _routing.chat_candidate(self._config, model)
        return self._target(model)

    def _url(self, op: Operation, candidate: str) -> str:
        if op.route == "chat":
            return _routing.chat_url(self._config, candidate)
        return _routing.task_url(self._config, candidate, op.task, op.route)

    def _headers(self, url: str, accept: str | None = None) -> dict[str, str]:
        headers = dict(self._config.headers)
        token = self._config.token
        allowed = token.explicit or _routing.is_hf_host(url, self._config)
        if token.value and allowed and "authorization" not in {k.lower() for k in headers}:
            headers["authorization"] = f"Bearer {token.value}"
            if url.startswith("http://") and not _routing.is_loopback(url):
                logger.warning(
                    "hfinfer: sending a token over plain http:// to %s", httpx.URL(url).host
                )
        if accept and "accept" not in {k.lower() for k in headers}:
            headers["accept"] = accept
        return headers

    def _withheld(self, url: str) -> bool:
        """True when a token was found implicitly but may not go to this host."""
        token = self._config.token
        return (
            bool(token.value) and not token.explicit and not _routing.is_hf_host(url, self._config)
        )

    def _outgoing(self, op: Operation, url: str, body: Body) -> Outgoing:
        key = (url, op.accept)
        found = self._url_headers.get(key)
        if found is None:  # the same for every call to this URL (the config is fixed)
            found = (
                MappingProxyType(self._headers(url, op.accept)),  # shared by calls: read-only
                url.startswith(self._config.inference_endpoint),
                self._withheld(url),
            )
            if len(self._url_headers) >= _CACHE_SIZE:
                self._url_headers.clear()
            self._url_headers[key] = found
        headers, wait_header, withheld = found
        return Outgoing(
            "POST",
            url,
            headers,
            body,
            None if op.route == "chat" else op.task,
            op.errors,
            wait_header,
            withheld,
        )

    def _task_outgoing(
        self,
        op: Operation,
        model: str | None,
        values: tuple[Any, ...],
        fetched: Mapping[str, bytes],
        extra: Mapping[str, Any] | None,
        choice: Choice | None,
        candidate: str | None,
    ) -> Outgoing:
        """A task call's request: to the provider `choice` names, else to `candidate`'s URL."""
        if choice is not None:
            form = self._binary_form(choice)
            body = self._body(op, model, values, fetched, extra, provider=True, binary=form)
            return self._provider_outgoing(op, choice, body)
        assert candidate is not None
        url = self._url(op, candidate)
        return self._outgoing(op, url, self._body(op, model, values, fetched, extra))

    # -- the pure parts of the methods that are not tasks -------------------------------------

    def _post_candidate(self, model: str | None, task: str | None) -> str | None:
        """The model or URL of `post()`; None means "use the recommended model for `task`"."""
        candidate = self._target(model)
        if candidate is None and task is None:
            raise ValueError(
                "You must specify at least a model (repo_id or URL) or a task, either when "
                f"instantiating `{_public_name(self)}` or when making a request."
            )
        return candidate

    def _post_outgoing(self, candidate: str, task: str | None, body: Body) -> Outgoing:
        route = "pipeline" if task in _routing.PIPELINE_TASKS else "task"
        url = _routing.task_url(self._config, candidate, task or "", route)
        accept = "image/png" if task in _routing.IMAGE_OUTPUT_TASKS else None
        return Outgoing(
            "POST",
            url,
            self._headers(url, accept),
            body,
            task=task,
            wait_header=url.startswith(self._config.inference_endpoint),
            withheld_token=self._withheld(url),
        )

    def _health_url(self, model: str | None) -> str:
        url = self._target(model)
        if url is None or not _routing.is_url(url):
            raise ValueError(
                "Model must be an Inference Endpoint URL. For serverless Inference API, please "
                f"use {_public_name(self)}.get_model_status."
            )
        return url.rstrip("/") + "/health"

    def _info_url(self, model: str | None) -> str:
        model = self._target(model)
        if model is None:
            raise ValueError("Model id not provided.")
        if _routing.is_url(model):
            return model.rstrip("/") + "/info"
        return f"{self._config.inference_endpoint}/models/{model}/info"

    def _status_url(self, model: str | None) -> str:
        model = model or self._config.model
        if model is None:
            raise ValueError("Model id not provided.")
        if _routing.is_url(model):
            raise NotImplementedError("Model status is only available for Inference API endpoints.")
        return f"{self._config.inference_endpoint}/status/{model}"

    def _framework_url(self, framework: str) -> str:
        return f"{self._config.inference_endpoint}/framework/{framework}"

    def _tasks_url(self) -> str:
        return f"{self._config.hub_endpoint}/api/tasks"

    def _download_outgoing(self, url: str) -> Outgoing:
        """A GET for an input given as a URL: no token or custom header goes to that host."""
        return Outgoing("GET", url, {"user-agent": self._config.headers["user-agent"]})

    # -- the steps of a task call --------------------------------------------------------------

    def _begin(
        self, op: Operation, model: str | None, values: tuple[Any, ...]
    ) -> tuple[tuple[Any, ...], list[str]]:
        """Validate; apply the text-generation fallback; list URLs to download."""
        validate(op, values)
        values = without_ineffective(op, values)
        if op.errors == "text-generation":
            values = self._drop_unsupported(op, model, values)
        return values, urls_to_fetch(op, values)

    def _body(
        self,
        op: Operation,
        model: str | None,
        values: tuple[Any, ...],
        fetched: Mapping[str, bytes],
        extra: Mapping[str, Any] | None,
        provider: bool = False,
        binary: Binary | None = None,
    ) -> Body:
        """The task's wire body; for a provider call the model is placed by its route."""
        chat = op.model_in_body and not provider
        model_name = _routing.chat_model_name(self._config, model) if chat else None
        return build_body(op, values, fetched, model_name=model_name, extra=extra, binary=binary)

    def _is_stream(self, op: Operation, values: tuple[Any, ...]) -> bool:
        return op.stream is not None and bool(op.value(values, op.stream.when))

    def _decode(self, op: Operation, response: httpx.Response, values: tuple[Any, ...]) -> Any:
        try:
            return decode_response(op, response.content, values)
        except DecodeFailure as exc:
            raise InferenceDecodeError(f"{op.method}(): {exc}", response=response) from None

    def _event_decoder(
        self, op: Operation, response: httpx.Response, values: tuple[Any, ...], reshape: Any = None
    ) -> Any:
        assert op.stream is not None
        spec = op.stream
        decode = decoder_for(spec.type)
        field = spec.field if spec.field and not op.value(values, spec.unless) else ()

        def decode_event(data: str) -> Any:
            if reshape is not None:
                data = reshape(data)
            try:
                payload = json.loads(data)
            except (ValueError, RecursionError):
                raise InferenceDecodeError(
                    f"{op.method}(): invalid JSON in stream event: {data[:200]!r}",
                    response=response,
                ) from None
            if isinstance(payload, dict) and payload.get("error") is not None:
                raise stream_error(response, payload)
            try:
                item = decode(payload)
            except DecodeFailure as exc:
                raise InferenceDecodeError(f"{op.method}(): {exc}", response=response) from None
            return select(item, field) if field else item

        return decode_event

    @staticmethod
    def _stream_failure(url: str) -> Any:
        def on_error(exc: Exception) -> Exception:
            if isinstance(exc, httpx.TimeoutException):
                return InferenceTimeoutError(f"Stream from {url} timed out: {type(exc).__name__}")
            return InferenceConnectionError(f"Stream from {url} broke: {type(exc).__name__}: {exc}")

        return on_error

    # -- text-generation fallback for servers that are not TGI ----------------------------------

    def _drop_unsupported(
        self, op: Operation, model: str | None, values: tuple[Any, ...]
    ) -> tuple[Any, ...]:
        unsupported = self._unsupported.get(model)
        if not unsupported:
            return values
        if self._is_stream(op, values):
            raise ValueError(
                "The model does not support the text-generation parameters of a TGI server: "
                "it cannot return output as a stream. Call again with stream=False."
            )
        dropped: list[str] = []
        out = list(values)
        for i, arg in enumerate(op.args):
            if arg.wire[-1] in unsupported and values[i] is not None:
                if values[i]:
                    dropped.append(arg.name)
                out[i] = None
        if op.response.unless and op.value(values, op.response.unless):
            warnings.warn(
                "The server is not TGI: `details=True` is ignored.", UserWarning, stacklevel=4
            )
            out[op.index[op.response.unless]] = False
        if dropped:
            warnings.warn(
                f"The text-generation server is not TGI. Ignoring parameters it rejected: {', '.join(dropped)}.",
                UserWarning,
                stacklevel=4,
            )
        return tuple(out)

    def _learn_unsupported(self, op: Operation, model: str | None, error: BadRequestError) -> bool:
        """Record parameters a non-TGI server rejected; True when the call should be sent again."""
        if op.errors != "text-generation":
            return False
        match = _UNUSED_KWARGS.search(error.server_message or "")
        if not match:
            return False
        names = {name.strip().strip("'\"") for name in match.group(1).split(",") if name.strip()}
        known = self._unsupported.setdefault(model, set())
        if names <= known:
            return False
        known.update(names)
        return True


def check_max_retries(method: str, value: int | None) -> None:
    """A per-call `max_retries` is None (the client's) or an integer >= 0."""
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InferenceInputError(
            method, "max_retries", f"must be None or an integer >= 0, got {value!r}"
        )


def _public_name(client: object) -> str:
    """`InferenceClient` or `AsyncInferenceClient`, for messages."""
    return next(
        (c.__name__ for c in type(client).__mro__ if not c.__name__.startswith("_")), "client"
    )


__all__ = ["ClientCore", "InferenceType"]
