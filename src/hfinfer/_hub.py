"""The Hub and serverless-API helpers: recommended models, model status, deployed models.

Pure steps (URLs are built by the clients; these decode the answers), shared by both clients.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from hfinfer._decoding import DecodeFailure, load_json
from hfinfer.errors import InferenceDecodeError

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
