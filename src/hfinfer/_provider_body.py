"""A provider's request body: the task's wire body reshaped by the rules of its `TaskRoute`.

Pure functions; the rules are data compiled from `schemas/providers/` (see `_providers`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import httpx

from hfinfer._encoding import Body, FilePart
from hfinfer._provider_answer import fill, get
from hfinfer._providers import Path, TaskRoute
from hfinfer.errors import InferenceInputError


def _pop(body: dict[str, Any], path: Path) -> tuple[bool, Any]:
    node: Any = body
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict) and path[-1] in node:
        return True, node.pop(path[-1])
    return False, None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def reshape_body(
    body: dict[str, Any],
    route: TaskRoute | None,
    model: str,
    *,
    method: str,
    provider: str,
    lora: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The task's wire body as this provider wants it (a new dict; `body` is not changed).

    `lora`: the {hub}, {hf_model} and {weights} of a LoRA adapter the mapping names."""
    if route is None:  # the router's auto chat route: model first
        return {"model": model, **{k: v for k, v in body.items() if k != "model"}}
    out: dict[str, Any] = _copy(body)
    for path, value in route.omits:
        if get(out, path) == value:
            _pop(out, path)
    for path in route.drops:
        found, _ = _pop(out, path)
        if found:
            warnings.warn(
                f"{method}(): provider {provider!r} does not take {path[-1]!r}; it is not sent.",
                UserWarning,
                stacklevel=5,
            )
    for path, new, template in route.renames:
        found, value = _pop(out, path)
        if found:
            node = out
            for key in path[:-1]:
                node = node[key]
            node[new] = value if template is None else fill(template, value)
    if route.flatten:
        found, nested = _pop(out, route.flatten)
        if found and isinstance(nested, dict):
            for key, value in nested.items():
                out.setdefault(key, value)
    for key in route.spread:
        if isinstance(out.get(key), dict):
            for inner, value in out.pop(key).items():
                out.setdefault(inner, value)
    if route.size is not None:
        _combine_size(out, route, method, provider)
    for key, when, template in route.rewrites:
        value = out.get(key)
        if isinstance(value, dict) and all(value.get(k) == v for k, v in when):
            out[key] = fill(template, value)
    for key, value in route.defaults:
        out.setdefault(key, value)
    for key, value in route.constants:
        out[key] = value
    for key, other, as_list in route.copies:
        if key in out:
            out.setdefault(other, [out[key]] if as_list else out[key])
    if route.lora is not None and lora:
        out[route.lora.key] = _fill_strings(route.lora.template, lora)
    if route.wrap:
        out = {route.wrap: out}
    if route.version is not None and route.version.separator in model:
        out[route.version.key] = model.split(route.version.separator, 1)[1]
    if route.model:
        out.pop(route.model_key, None)
    if route.model == "first":
        return {route.model_key: model, **out}
    if route.model == "last":
        out[route.model_key] = model
    return out


def _fill_strings(template: Any, values: Mapping[str, str]) -> Any:
    if isinstance(template, str):
        for name, value in values.items():
            template = template.replace("{" + name + "}", value)
        return template
    if isinstance(template, dict):
        return {k: _fill_strings(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill_strings(v, values) for v in template]
    return template


def _combine_size(out: dict[str, Any], route: TaskRoute, method: str, provider: str) -> None:
    assert route.size is not None
    width, height = out.get("width"), out.get("height")
    if width is None and height is None:
        return
    if width is None or height is None:
        missing = "height" if height is None else "width"
        raise InferenceInputError(
            method, missing, f"is required with the other dimension by provider {provider!r}"
        )
    del out["width"], out["height"]
    if route.size.style == "x":
        out[route.size.key] = f"{width}x{height}"
    else:
        out[route.size.key] = {"width": width, "height": height}


def _field(value: Any) -> str:
    """A multipart field's text: strings as they are, booleans in JSON, numbers, else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return json.dumps(value)
    return str(value)


def multipart(body: dict[str, Any]) -> Body:
    """A multipart/form-data body: file parts first, then one field per other key, in order
    (so the model, placed last, is the last field)."""
    files = [(k, (v.filename, v.content, v.mime)) for k, v in body.items() if isinstance(v, FilePart)]  # fmt: skip
    fields = [(k, (None, _field(v).encode(), None)) for k, v in body.items() if not isinstance(v, FilePart)]  # fmt: skip
    request = httpx.Request("POST", "http://multipart.invalid/", files=[*files, *fields])
    return Body(content=request.read(), content_type=request.headers["content-type"])
