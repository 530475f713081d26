"""The Hub and serverless-API helpers: recommended models, model status, deployed models, and
the inference-provider mapping of a model.

Pure steps (URLs are built by the clients; these decode the answers), shared by both clients.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

import httpx

from hfinfer._decoding import DecodeFailure, load_json
from hfinfer._providers import MappingEntry
from hfinfer.errors import InferenceDecodeError, InferenceProviderError

logger = logging.getLogger("hfinfer")

MAIN_FRAMEWORKS = (
    "diffusers",
    "sentence-transformers",
    "text-generation-inference",
    "transformers",
)
ALL_FRAMEWORKS = (
    *MAIN_FRAMEWORKS, "adapter-transformers", "allennlp", "asteroid", "bertopic", "doctr", "espnet",
    "fairseq", "fastai", "fasttext", "flair", "k2", "keras", "mindspore", "nemo", "open_clip",
    "paddlenlp", "peft", "pyannote-audio", "sklearn", "spacy", "span-marker", "speechbrain", "stanza",
    "timm",
)  # fmt: skip
RECOMMENDED_TASKS: dict[str, Any] = {}
"""`GET {HF_ENDPOINT}/api/tasks`, fetched once per process and shared by both clients."""


def recommended(task: str) -> str:
    """The recommended model for `task` from the cached task list (logged: pin a model instead)."""
    model = recommended_from(RECOMMENDED_TASKS, task)
    logger.info(
        "Using recommended model %s for task %s. Pin a model to avoid surprises.", model, task
    )
    return model


def endpoint_info(response: httpx.Response) -> dict[str, Any]:
    data = parse_json_response(response, "get_endpoint_info()")
    if not isinstance(data, dict):
        raise ValueError("get_endpoint_info(): expected a JSON object")
    return data


def model_status(data: Any, response: httpx.Response) -> Any:
    from hfinfer._status import ModelStatus

    if not isinstance(data, dict):
        raise InferenceDecodeError("get_model_status(): expected a JSON object", response=response)
    if data.get("error"):
        raise ValueError(str(data["error"]))
    return ModelStatus(
        loaded=bool(data.get("loaded")),
        state=str(data.get("state")),
        compute_type=data.get("compute_type") or {},
        framework=str(data.get("framework")),
    )


def deployed_models(responses: list[tuple[str, Any]]) -> dict[str, list[str]]:
    """Merge `/framework/{fw}` answers into task → sorted unique model ids."""
    by_task: dict[str, set[str]] = {}
    for framework, items in responses:
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or "model_id" not in item or "task" not in item:
                continue
            by_task.setdefault(item["task"], set()).add(item["model_id"])
            if framework == "sentence-transformers":
                by_task.setdefault("feature-extraction", set()).add(item["model_id"])
                by_task.setdefault("sentence-similarity", set()).add(item["model_id"])
    return {task: sorted(ids, key=str.lower) for task, ids in by_task.items()}


def frameworks_for(frameworks: str | list[str] | None) -> tuple[str, ...]:
    if frameworks is None:
        return MAIN_FRAMEWORKS
    if frameworks == "all":
        return ALL_FRAMEWORKS
    if isinstance(frameworks, str):
        return (frameworks,)
    return tuple(dict.fromkeys(frameworks))


def recommended_from(data: Any, task: str) -> str:
    info = data.get(task) if isinstance(data, dict) else None
    models = info.get("widgetModels") if isinstance(info, dict) else None
    if not models:
        raise ValueError(
            f"Task {task} has no recommended model. Please specify a model explicitly. "
            "Visit https://huggingface.co/tasks for more info."
        )
    return str(models[0])


def parse_json_response(response: httpx.Response, what: str) -> Any:
    try:
        return load_json(response.content)
    except DecodeFailure as exc:
        raise InferenceDecodeError(f"{what}: {exc}", response=response) from None


# -- the Hub's inference-provider mapping -----------------------------------------------------

MAPPING_CACHE_SIZE = 1024
_MAPPINGS: OrderedDict[tuple[str, str], tuple[MappingEntry, ...]] = OrderedDict()
_MAPPINGS_LOCK = threading.Lock()


def mapping_url(hub_endpoint: str, model: str) -> str:
    """`GET {HF_ENDPOINT}/api/models/{id}?expand=inferenceProviderMapping` (the slash kept)."""
    return f"{hub_endpoint}/api/models/{model}?expand=inferenceProviderMapping"


def cached_mapping(hub_endpoint: str, model: str) -> tuple[MappingEntry, ...] | None:
    with _MAPPINGS_LOCK:
        found = _MAPPINGS.get((hub_endpoint, model))
        if found is not None:
            _MAPPINGS.move_to_end((hub_endpoint, model))
        return found


def store_mapping(hub_endpoint: str, model: str, entries: tuple[MappingEntry, ...]) -> None:
    """Cache a model's mapping for the process (least recently used dropped beyond the bound)."""
    with _MAPPINGS_LOCK:
        _MAPPINGS[(hub_endpoint, model)] = entries
        _MAPPINGS.move_to_end((hub_endpoint, model))
        while len(_MAPPINGS) > MAPPING_CACHE_SIZE:
            _MAPPINGS.popitem(last=False)


def clear_mappings() -> None:
    with _MAPPINGS_LOCK:
        _MAPPINGS.clear()


def parse_mapping(response: httpx.Response, model: str) -> tuple[MappingEntry, ...]:
    """The entries of `inferenceProviderMapping` (an object keyed by provider, or a list)."""
    data = parse_json_response(response, "provider mapping")
    raw = data.get("inferenceProviderMapping") if isinstance(data, dict) else None
    if not raw:
        raise InferenceProviderError(
            f"No provider mapping found for model {model!r} on the Hub.",
            model=model,
            provider=None,
            supported=(),
        )
    items = (
        [{**v, "provider": k} for k, v in raw.items() if isinstance(v, dict)]
        if isinstance(raw, dict)
        else [v for v in raw if isinstance(v, dict)]
        if isinstance(raw, list)
        else []
    )
    return tuple(
        MappingEntry(
            provider=str(item.get("provider", "")),
            provider_id=str(item.get("providerId") or model),
            task=str(item.get("task", "")),
            status=str(item.get("status", "live")),
            adapter_weights=str(item["adapterWeightsPath"])
            if item.get("adapterWeightsPath")
            else None,
        )
        for item in items
    )


def warn_status(model: str, provider: str, status: str) -> None:
    if status == "staging":
        logger.warning(
            "Model %s is in staging mode for provider %s. Meant for test purposes only.",
            model,
            provider,
        )
    elif status == "error":
        logger.warning(
            "Our latest automated health check on model %s for provider %s did not complete "
            "successfully. Inference call might fail.",
            model,
            provider,
        )
