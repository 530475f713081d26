"""A provider's answer in the task's wire shape: the pure rules of `ResponseRule`.

Media the answer points to (a URL to download) is not fetched here: `_jobs` asks its driver.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from hfinfer._decoding import DecodeFailure
from hfinfer._providers import Path, ResponseRule


def get(value: Any, path: Path) -> Any:
    """The value at a dotted path (list items by their index); None when it is not there."""
    for key in path:
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict):
            value = value.get(key)
        else:
            return None
    return value


def has_rule(rule: ResponseRule) -> bool:
    return bool(rule.fields or rule.select or rule.first or rule.each or rule.template is not None)


def pick(data: Any, rule: ResponseRule) -> Any:
    """The first steps of a rule: `select` or `first`, then `each`."""
    if rule.first:
        found = next(
            (v for path in rule.first if isinstance(v := get(data, path), (str, int, float))),
            None,
        )
        if found is None:
            paths = ", ".join(".".join(p) for p in rule.first)
            raise DecodeFailure(f"expected a value at one of {paths}, got {_brief(data)}")
        data = found
    elif rule.select:
        data = get(data, rule.select)
    if rule.each and isinstance(data, list):
        data = [get(item, rule.each) for item in data]
    return data


def shape(value: Any, rule: ResponseRule) -> Any:
    """The last step of a rule: build the task's object from `fields` or `template`."""
    if rule.fields:
        out: dict[str, Any] = {}
        for target, source in rule.fields:
            node = out
            for key in target[:-1]:
                node = node.setdefault(key, {})
            node[target[-1]] = get(value, source)
        return out
    if rule.template is not None:
        return fill(rule.template, value)
    return value


def reshape_answer(data: Any, rule: ResponseRule) -> Any:
    """A JSON answer (no media) in the task's wire shape."""
    return shape(pick(data, rule), rule)


def fill(template: Any, value: Any) -> Any:
    """A JSON template filled from `value` (see `ResponseRule.template`)."""
    if isinstance(template, str) and template.startswith("$"):
        return value if template == "$" else get(value, tuple(template[1:].split(".")))
    if isinstance(template, dict):
        if "$each" in template:
            items = get(value, tuple(str(template["$each"]).split(".")))
            if not isinstance(items, list):
                return None
            return [fill(template["$do"], item) for item in items]
        return {k: fill(v, value) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, value) for v in template]
    return template


def media_url(value: Any, what: str) -> str:
    """The http(s) URL the answer points to, or a decode failure saying what was found."""
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return value
    raise DecodeFailure(f"expected the URL of the {what}, got {_brief(value)}")


def b64_media(value: Any, what: str) -> bytes:
    """Bytes from a base64 string, or from a data: URL's payload."""
    if isinstance(value, str):
        if value.startswith("data:"):
            value = value.partition(",")[2]
        try:
            decoded = base64.b64decode(value)  # line breaks and padding slips are fine
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded:
            return decoded
    raise DecodeFailure(f"expected the {what} as base64, got {_brief(value)}")


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."
