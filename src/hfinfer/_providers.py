"""Inference Providers: the runtime form of the generated provider table, and the pure steps of a
provider call (choosing the provider, its URL and auth, reshaping the body and the response).

No provider is named here: every fact about a provider is data in `schemas/providers/`, compiled
into `hfinfer._generated.providers` and installed by the package (`install`). The runtime knows
protocol kinds only through the generic rules they compile to (renames, drops, flattening, model
placement, response selection).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from hfinfer.errors import InferenceProviderError

ROUTER = "https://router.huggingface.co"
AUTO_CHAT_URL = f"{ROUTER}/v1/chat/completions"
"""The router's own chat route: it picks the provider by the user's preference."""
KINDS = frozenset({"chat-completions", "text-completions", "embeddings", "hf-task"})
"""The protocol kinds this runtime executes."""

Path = tuple[str, ...]


class ResponseRule(NamedTuple):
    """How a provider's JSON answer becomes the task's wire shape (empty: as it is)."""

    select: Path = ()
    """Descend into this path first (`data`)."""
    each: Path = ()
    """Then, for a list, take this path of every item (`embedding`)."""
    fields: tuple[tuple[Path, Path], ...] = ()
    """Or build an object: (target path, source path) pairs (`generated_text` ← `choices.0.text`)."""


class TaskRoute(NamedTuple):
    """One (provider, task) pair: where it posts and how body and answer are reshaped."""

    kind: str
    route: str
    """Appended to the provider's base URL; `{model}` is the provider's model id, `{task}` ours."""
    hub_task: str
    """The task name in the Hub's provider mapping (`conversational` for chat)."""
    model: str | None = None
    """"first" or "last": where the body carries the model id; None: not in the body."""
    model_key: str = "model"
    renames: tuple[tuple[Path, str], ...] = ()
    """(wire path, new last key): a parameter sent under another name."""
    drops: tuple[Path, ...] = ()
    """Wire paths never sent to this provider."""
    flatten: Path = ()
    """A wire object whose keys are moved to the body's root (`parameters`)."""
    response: ResponseRule = ResponseRule()
    stream: ResponseRule = ResponseRule()
    """The same, for each server-sent event of a stream."""


class ProviderSpec(NamedTuple):
    """One provider: its URLs, auth form, extra headers and tasks."""

    name: str
    router: str
    """The segment of `https://router.huggingface.co/{router}` for Hugging Face tokens."""
    base_url: str
    """The provider's own base URL, for any other key."""
    tasks: Mapping[str, TaskRoute]
    direct_only: bool = False
    """True: Hugging Face tokens are refused (the router does not serve it)."""
    auth_scheme: str = "Bearer"
    """The Authorization scheme sent with a provider key (the router always gets Bearer)."""
    key_required: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    mapping: bool = True
    """True: the provider's model id comes from the Hub mapping; False: the id given is used."""


TABLE: dict[str, ProviderSpec] = {}
"""Provider name → spec; filled by `install` from the generated table when hfinfer is imported."""


def install(table: Mapping[str, ProviderSpec]) -> None:
    for name, spec in table.items():
        unknown = {route.kind for route in spec.tasks.values()} - KINDS
        if unknown:
            raise RuntimeError(f"provider {name!r} uses unknown protocol kinds: {sorted(unknown)}")
    TABLE.clear()
    TABLE.update(table)


def check_provider(owner: str, provider: object) -> None:
    """Constructor check: a known provider name, "auto", or None."""
    from hfinfer.errors import InferenceInputError

    if provider is None or provider == "auto" or (isinstance(provider, str) and provider in TABLE):
        return
    names = ", ".join(repr(n) for n in ("auto", *sorted(TABLE)))
    raise InferenceInputError(
        owner, "provider", f"must be one of {names} or None, got {provider!r}"
    )


def endpoint_overridden() -> bool:
    """Whether `HF_INFERENCE_ENDPOINT` is set (then provider=None keeps the endpoint routing)."""
    return bool(os.environ.get("HF_INFERENCE_ENDPOINT"))


def is_hf_token(key: str | None) -> bool:
    return bool(key) and str(key).startswith("hf_")


# -- choosing the provider and its model id ---------------------------------------------------


class MappingEntry(NamedTuple):
    """One entry of a model's `inferenceProviderMapping` on the Hub."""

    provider: str
    provider_id: str
    task: str
    status: str


class Choice(NamedTuple):
    """The provider (None: the router's auto chat route) and the model id its body carries."""

    spec: ProviderSpec | None
    route: TaskRoute | None
    model: str
    status: str = "live"


def spec_for(provider: str, task: str, model: str) -> tuple[ProviderSpec, TaskRoute]:
    spec = TABLE[provider]
    route = spec.tasks.get(task)
    if route is None:
        raise InferenceProviderError(
            f"Task {task!r} is not supported by provider {provider!r} (model {model!r}). "
            f"It supports: {', '.join(sorted(spec.tasks))}.",
            model=model,
            provider=provider,
            supported=tuple(sorted(spec.tasks)),
        )
    return spec, route


def from_mapping(provider: str, task: str, model: str, entries: tuple[MappingEntry, ...]) -> Choice:
    """Pick the mapping entry for `provider` ("auto": the first known one serving the task)."""
    if provider == "auto":
        for entry in entries:
            if entry.provider in TABLE and task in TABLE[entry.provider].tasks:
                spec, route = TABLE[entry.provider], TABLE[entry.provider].tasks[task]
                if entry.task == route.hub_task:
                    return Choice(spec, route, entry.provider_id, entry.status)
        offered = sorted({f"{e.provider} ({e.task})" for e in entries})
        raise InferenceProviderError(
            f"No provider serves task {task!r} for model {model!r}. "
            f"Its providers: {', '.join(offered) or 'none'}.",
            model=model,
            provider=provider,
            supported=tuple(offered),
        )
    spec, route = spec_for(provider, task, model)
    found = next((e for e in entries if e.provider == provider), None)
    if found is None:
        offered = sorted({e.provider for e in entries})
        raise InferenceProviderError(
            f"Model {model!r} is not supported by provider {provider!r}. "
            f"Its providers: {', '.join(offered) or 'none'}.",
            model=model,
            provider=provider,
            supported=tuple(offered),
        )
    entry = found
    if entry.task != route.hub_task:
        raise InferenceProviderError(
            f"Model {model!r} is served by provider {provider!r} for task {entry.task!r}, "
            f"not {route.hub_task!r}.",
            model=model,
            provider=provider,
            supported=(entry.task,),
        )
    return Choice(spec, route, entry.provider_id, entry.status)


# -- URL, headers, body and answer of the chosen provider --------------------------------------


def join(base: str, route: str) -> str:
    return base.rstrip("/") + "/" + route.lstrip("/")


def target_url(choice: Choice, key: str | None, task: str) -> str:
    """Router for a Hugging Face token, the provider's own base URL for any other key."""
    spec, route = choice.spec, choice.route
    if spec is None or route is None:
        if not is_hf_token(key):
            raise InferenceProviderError(
                "The router's automatic provider choice needs a Hugging Face token (hf_...); "
                "pass provider= to send a provider key to that provider.",
                model=choice.model,
                provider="auto",
                supported=(),
            )
        return AUTO_CHAT_URL
    path = route.route.replace("{model}", choice.model).replace("{task}", task)
    if is_hf_token(key):
        if spec.direct_only:
            raise InferenceProviderError(
                f"Provider {spec.name!r} is not available through Hugging Face routing: pass "
                f"that provider's own API key, not a Hugging Face token.",
                model=choice.model,
                provider=spec.name,
                supported=(),
            )
        return join(f"{ROUTER}/{spec.router}", path)
    if not key and spec.key_required:
        raise InferenceProviderError(
            f"Provider {spec.name!r} needs an API key: pass token= (a Hugging Face token, routed "
            f"through {ROUTER}) or that provider's own key.",
            model=choice.model,
            provider=spec.name,
            supported=(),
        )
    return join(spec.base_url, path)


def auth_header(choice: Choice, key: str | None) -> str | None:
    if not key:
        return None
    if choice.spec is None or is_hf_token(key):
        return f"Bearer {key}"
    return f"{choice.spec.auth_scheme} {key}"


def _pop(body: dict[str, Any], path: Path) -> tuple[bool, Any]:
    node: Any = body
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and path[-1] in node:
        return True, node.pop(path[-1])
    return False, None


def reshape_body(body: dict[str, Any], route: TaskRoute | None, model: str) -> dict[str, Any]:
    """The task's wire body as this provider wants it (a new dict; `body` is not changed)."""
    if route is None:  # the router's auto chat route: model first
        return {"model": model, **{k: v for k, v in body.items() if k != "model"}}
    out: dict[str, Any] = _copy(body)
    for path in route.drops:
        _pop(out, path)
    for path, new in route.renames:
        found, value = _pop(out, path)
        if found:
            node = out
            for key in path[:-1]:
                node = node[key]
            node[new] = value
    if route.flatten:
        found, nested = _pop(out, route.flatten)
        if found and isinstance(nested, dict):
            for key, value in nested.items():
                out.setdefault(key, value)
    if route.model:
        out.pop(route.model_key, None)
    if route.model == "first":
        return {route.model_key: model, **out}
    if route.model == "last":
        out[route.model_key] = model
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _get(value: Any, path: Path) -> Any:
    for key in path:
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def reshape_answer(data: Any, rule: ResponseRule) -> Any:
    """The provider's JSON answer in the task's wire shape."""
    if rule.fields:
        out: dict[str, Any] = {}
        for target, source in rule.fields:
            node = out
            for key in target[:-1]:
                node = node.setdefault(key, {})
            node[target[-1]] = _get(data, source)
        return out
    if rule.select:
        data = _get(data, rule.select)
    if rule.each and isinstance(data, list):
        data = [_get(item, rule.each) for item in data]
    return data


def has_rule(rule: ResponseRule) -> bool:
    return bool(rule.fields or rule.select or rule.each)
