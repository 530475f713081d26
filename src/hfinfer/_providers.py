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
KINDS = frozenset(
    {
        "chat-completions",
        "text-completions",
        "embeddings",
        "hf-task",
        "json",
        "job",
        "speech",
        "transcription",
    }
)
"""The protocol kinds this runtime executes."""

Path = tuple[str, ...]


class ResponseRule(NamedTuple):
    """How a provider's answer becomes the task's wire shape (empty: the JSON as it is).

    The steps run in this order: `select` or `first`, `each`, `media`, `encode`, then `fields`
    or `template`.
    """

    select: Path = ()
    """Descend into this path first (`data`)."""
    first: tuple[Path, ...] = ()
    """Or: the first of these paths that holds a string or a number."""
    text_at: tuple[Path, ...] = ()
    """When `first` finds nothing: the first of these paths holding a URL, whose text is read."""
    each: Path = ()
    """Then, for a list, take this path of every item (`embedding`)."""
    media: str = ""
    """The value is media: "url" (downloaded), "base64", "data-url" (a data: URL or a URL to
    download), or "raw" (the answer's body itself, not JSON)."""
    encode: str = ""
    """"base64": the media's bytes become a base64 string again (masks inside JSON results)."""
    fields: tuple[tuple[Path, Path], ...] = ()
    """Or build an object: (target path, source path) pairs (`generated_text` ← `choices.0.text`)."""
    template: Any = None
    """Or build any JSON value: strings "$path" ("$" alone: the value) are read from the value,
    {"$each": path, "$do": template} maps a list; everything else is taken as it is."""


class JobSpec(NamedTuple):
    """A submit-and-poll job: where its status is read, when it is done, and where its result is."""

    id: Path
    """The job id in the submit answer (required)."""
    status_url: str
    """Template: {base} the base URL posted to, {url} the URL posted to, {query} its query
    (with "?"), {id} the job id, {link} the path and query of the URL at `link`."""
    result_url: str | None = None
    """Template of a GET for the result once done; None: the last status answer is the result."""
    link: Path = ()
    status: Path = ("status",)
    pending: tuple[str | None, ...] = ()
    """Statuses of a job still running (None: an answer without a status)."""
    done: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    error: Path = ("error",)
    """Where a failed job's message is (a string, or an object with `message`)."""
    interval: float = 1.0
    first_delay: float | None = None
    """The wait before the first poll (None: `interval`)."""
    max_polls: int = 600


class Size(NamedTuple):
    """`width` and `height` sent as one value: "WxH" (style "x") or {width, height} ("object")."""

    key: str
    style: str


class Version(NamedTuple):
    """A model id "name:version" posts to `route` with the version under `key` in the body."""

    separator: str
    route: str
    key: str


class Binary(NamedTuple):
    """How binary inputs are sent: "base64", "data-url" (a URL passes as it is) or "file"
    (a multipart file part named `name`, its extension changed to the input's type when known);
    `mime` when the input's type is unknown."""

    style: str = "base64"
    mime: str = "application/octet-stream"
    name: str = "file"


class Lora(NamedTuple):
    """For a LoRA adapter (a mapping entry with `adapterWeightsPath`): the root `key` set to
    `template`, whose strings may hold {hub} (the Hub's URL), {hf_model} and {weights}."""

    key: str
    template: Any


class Variant(NamedTuple):
    """A different route for models whose id contains all of `contains` (case-insensitive)."""

    contains: tuple[str, ...]
    route: TaskRoute


class TaskRoute(NamedTuple):
    """One (provider, task) pair: where it posts, how body and answer are reshaped, and the job
    that yields the answer when the provider works asynchronously."""

    kind: str
    route: str
    """Appended to the provider's base URL; `{model}` is the provider's model id, `{task}` ours."""
    hub_task: str
    """The task name in the Hub's provider mapping (`conversational` for chat)."""
    base_url: str | None = None
    """The provider's own base URL for this task, when it differs from the provider's."""
    router_query: str = ""
    """A query string added when the call goes through the router."""
    model: str | None = None
    """"first" or "last": where the body carries the model id; None: not in the body."""
    model_key: str = "model"
    version: Version | None = None
    renames: tuple[tuple[Path, str, Any], ...] = ()
    """(wire path, new last key, template): a parameter sent under another name (in the same
    object), put in a template when one is given ("$" is the value: `[{"image": "$"}]`)."""
    drops: tuple[Path, ...] = ()
    """Wire paths this provider does not take: a value given there is not sent, with a warning."""
    omits: tuple[tuple[Path, Any], ...] = ()
    """(wire path, value): not sent when it holds this value (a task's own defaults that mean
    nothing to this provider, e.g. `details=False` to an OpenAI completions route)."""
    flatten: Path = ()
    """A wire object whose keys are moved to the body's root (`parameters`)."""
    spread: tuple[str, ...] = ()
    """Root keys holding an object whose keys are moved to the root (`target_size`)."""
    size: Size | None = None
    rewrites: tuple[tuple[str, tuple[tuple[str, Any], ...], Any], ...] = ()
    """(root key, (key, value) pairs, template): an object at that key holding those pairs is
    replaced by the template filled from it (OpenAI's `json_schema` response format → a
    provider's own)."""
    defaults: tuple[tuple[str, Any], ...] = ()
    """Root keys set when the call gave no value."""
    constants: tuple[tuple[str, Any], ...] = ()
    """Root keys always set to these values."""
    copies: tuple[tuple[str, str, bool], ...] = ()
    """(root key, other root key, as a one-item list): a value sent under a second key too."""
    wrap: str | None = None
    """Everything but the model and version goes under this key (`input`)."""
    binary: Binary = Binary()
    multipart: bool = False
    """The body is multipart/form-data: files from binary inputs, fields from the rest."""
    response: ResponseRule = ResponseRule()
    stream: ResponseRule = ResponseRule()
    """The same, for each server-sent event of a stream."""
    job: JobSpec | None = None
    lora: Lora | None = None
    variants: tuple[Variant, ...] = ()


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
    adapter_weights: str | None = None
    """`adapterWeightsPath`: a LoRA's weights file in the Hub repo (then the id is the base)."""


class Choice(NamedTuple):
    """The provider (None: the router's auto chat route) and the model id its body carries."""

    spec: ProviderSpec | None
    route: TaskRoute | None
    model: str
    status: str = "live"
    hf_model: str = ""
    """The Hub model id asked for (a LoRA adapter's repo)."""
    adapter_weights: str | None = None


def _chosen(spec: ProviderSpec, route: TaskRoute, model: str, entry: MappingEntry) -> Choice:
    return Choice(
        spec,
        for_model(route, entry.provider_id),
        entry.provider_id,
        entry.status,
        hf_model=model,
        adapter_weights=entry.adapter_weights,
    )


def for_model(route: TaskRoute, model: str) -> TaskRoute:
    """The route's variant for this provider model id, if one matches (else the route itself)."""
    lowered = model.lower()
    for variant in route.variants:
        if all(part in lowered for part in variant.contains):
            return variant.route
    return route


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
                    return _chosen(spec, route, model, entry)
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
    return _chosen(spec, route, model, entry)


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
    path = route_path(route, choice.model, task)
    if is_hf_token(key):
        if spec.direct_only:
            raise InferenceProviderError(
                f"Provider {spec.name!r} is not available through Hugging Face routing: pass "
                f"that provider's own API key, not a Hugging Face token.",
                model=choice.model,
                provider=spec.name,
                supported=(),
            )
        url = join(f"{ROUTER}/{spec.router}", path)
        return f"{url}?{route.router_query}" if route.router_query else url
    if not key and spec.key_required:
        raise InferenceProviderError(
            f"Provider {spec.name!r} needs an API key: pass token= (a Hugging Face token, routed "
            f"through {ROUTER}) or that provider's own key.",
            model=choice.model,
            provider=spec.name,
            supported=(),
        )
    return join(route.base_url or spec.base_url, path)


def base_for(choice: Choice, key: str | None) -> str:
    """The base URL a provider call posts under (the `{base}` of a job's URL templates)."""
    assert choice.spec is not None and choice.route is not None
    if is_hf_token(key):
        return f"{ROUTER}/{choice.spec.router}"
    return (choice.route.base_url or choice.spec.base_url).rstrip("/")


def route_path(route: TaskRoute, model: str, task: str) -> str:
    """The route for this model id: a versioned id ("name:version") may post elsewhere."""
    if route.version is not None and route.version.separator in model:
        return route.version.route
    return route.route.replace("{model}", model).replace("{task}", task)


def auth_header(choice: Choice, key: str | None) -> str | None:
    if not key:
        return None
    if choice.spec is None or is_hf_token(key):
        return f"Bearer {key}"
    return f"{choice.spec.auth_scheme} {key}"
