"""The pure steps of a call through an Inference Provider, shared by the sync and async clients.

A call goes to a provider when the client has `provider=` (or the default provider=None with a
Hub model id, no `base_url` and no `HF_INFERENCE_ENDPOINT`: then as the reference, "auto"). A URL
model, a `base_url` or `HF_INFERENCE_ENDPOINT` keep the endpoint routing of `_routing`. Only the
Hub mapping lookup is I/O; the clients do it between `_provider_plan` and `_provider_choice`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import httpx

from hfinfer import _providers, _routing
from hfinfer._config import ClientConfig
from hfinfer._encoding import Body
from hfinfer._hub import cached_mapping, mapping_url, parse_mapping, store_mapping, warn_status
from hfinfer._jobs import Call
from hfinfer._operation import Operation
from hfinfer._provider_answer import has_rule, reshape_answer
from hfinfer._provider_body import multipart, reshape_body
from hfinfer._providers import Binary, Choice, MappingEntry
from hfinfer._sending import Outgoing


class Plan(NamedTuple):
    """A provider call before the mapping lookup: the provider ("auto" or a name), the HF id,
    and the Hub mapping URL when the provider's model id must be looked up."""

    provider: str
    model: str
    lookup: str | None


class ProviderSteps:
    """Mixed into `ClientCore`: where a provider call goes and how it is shaped."""

    _config: ClientConfig

    def _provider_plan(self, op: Operation, model: str | None) -> Plan | None:
        """None: the call keeps the endpoint routing (URL model, base_url, HF_INFERENCE_ENDPOINT,
        or no model at all, which uses the recommended model as before)."""
        config = self._config
        if op.route == "chat":
            hf_model = _routing.chat_candidate(config, model)
        else:
            hf_model = model or config.model or config.base_url
        if hf_model is None or _routing.is_url(hf_model) or config.base_url is not None:
            return None
        provider = config.provider
        if provider is None:
            if config.endpoint_set:
                return None
            provider = "auto"
        if provider == "auto":
            lookup = op.route != "chat"
        else:
            spec, _ = _providers.spec_for(provider, op.task, hf_model)  # fails before any request
            lookup = spec.mapping
        if not lookup:
            return Plan(provider, hf_model, None)
        if cached_mapping(config.hub_endpoint, hf_model) is not None:
            return Plan(provider, hf_model, None)
        return Plan(provider, hf_model, mapping_url(config.hub_endpoint, hf_model))

    def _mapping_outgoing(self, plan: Plan) -> Outgoing:
        """The Hub lookup: the client's headers; its key only when it is a Hugging Face token."""
        assert plan.lookup is not None
        headers = dict(self._config.headers)
        key = self._config.token.value
        if _providers.is_hf_token(key) and "authorization" not in {k.lower() for k in headers}:
            headers["authorization"] = f"Bearer {key}"
        return Outgoing("GET", plan.lookup, headers)

    def _store_mapping(self, plan: Plan, response: httpx.Response) -> None:
        store_mapping(self._config.hub_endpoint, plan.model, parse_mapping(response, plan.model))

    def _provider_choice(self, op: Operation, plan: Plan) -> Choice:
        if plan.provider == "auto" and op.route == "chat":
            return Choice(None, None, plan.model)
        entries: tuple[MappingEntry, ...] | None = None
        if plan.provider == "auto" or _providers.TABLE[plan.provider].mapping:
            entries = cached_mapping(self._config.hub_endpoint, plan.model)
        if entries is None:
            spec, route = _providers.spec_for(plan.provider, op.task, plan.model)
            return Choice(spec, _providers.for_model(route, plan.model), plan.model)
        choice = _providers.from_mapping(plan.provider, op.task, plan.model, entries)
        assert choice.spec is not None
        warn_status(plan.model, choice.spec.name, choice.status)
        return choice

    def _provider_outgoing(self, op: Operation, choice: Choice, body: Body) -> Outgoing:
        config = self._config
        key = config.token.value
        url = _providers.target_url(choice, key, op.task)
        headers = dict(config.headers)
        present = {k.lower() for k in headers}
        for name, value in choice.spec.headers if choice.spec else ():
            if name.lower() not in present:
                headers[name] = value
        allowed = config.token.explicit or _routing.is_hf_host(url, config)
        auth = _providers.auth_header(choice, key) if allowed else None
        if auth and "authorization" not in present:
            headers["authorization"] = auth
        if op.accept and "accept" not in present:
            headers["accept"] = op.accept
        if isinstance(body.json, dict):
            name = choice.spec.name if choice.spec else "auto"
            lora = None
            if choice.adapter_weights:
                lora = {"hub": config.hub_endpoint, "hf_model": choice.hf_model, "weights": choice.adapter_weights}  # fmt: skip
            reshaped = reshape_body(
                body.json, choice.route, choice.model, method=op.method, provider=name, lora=lora
            )
            if choice.route is not None and choice.route.multipart:
                body = multipart(reshaped)
                headers["content-type"] = body.content_type or ""
            else:
                body = Body(json=reshaped)
        return Outgoing(
            method="POST",
            url=url,
            headers=headers,
            body=body,
            task=None if op.route == "chat" else op.task,
            errors=op.errors,
            withheld_token=bool(key) and not allowed,
        )

    @staticmethod
    def _binary_form(choice: Choice | None) -> Binary | None:
        """How a provider wants binary inputs; None: as the task's own body kind says."""
        if choice is None or choice.route is None or choice.route.kind == "hf-task":
            return None
        return choice.route.binary

    def _to_fetch(self, choice: Choice | None, urls: list[str]) -> list[str]:
        """Input URLs to download first (none when the provider takes URLs as they are)."""
        form = self._binary_form(choice)
        return [] if form is not None and form.style == "data-url" else urls

    def _finishing(
        self,
        op: Operation,
        choice: Choice,
        post: Outgoing,
        values: tuple[Any, ...],
        started: float,
        download: Callable[[str], Outgoing],
    ) -> Call:
        """What `_jobs.finish` needs to turn the provider's first answer into the result."""
        route = choice.route
        timeout = self._config.timeout
        return Call(
            op=op,
            values=values,
            provider=choice.spec.name if choice.spec else "auto",
            rule=route.response if route else _providers.ResponseRule(),
            job=route.job if route else None,
            post=post,
            base=_providers.base_for(choice, self._config.token.value) if route else "",
            deadline=None if timeout is None else started + timeout,
            download=download,
        )

    @staticmethod
    def _event_reshaper(choice: Choice) -> Any:
        """For a stream: a function giving each event's JSON text in the task's shape, or None."""
        rule = choice.route.stream if choice.route else _providers.ResponseRule()
        if not has_rule(rule):
            return None

        def reshape(data: str) -> str:
            try:
                payload = json.loads(data)
            except (ValueError, RecursionError):
                return data  # the event decoder reports it
            if isinstance(payload, dict) and payload.get("error") is not None:
                return data
            return json.dumps(reshape_answer(payload, rule))

        return reshape
