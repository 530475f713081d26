"""A compiled (provider, task) route as the Python expression the generated table holds:
`TaskRoute(...)` with only the fields that differ from the runtime's defaults (ruff lays it out).
"""

from __future__ import annotations

from typing import Any

# The runtime's defaults (hfinfer._providers); a field equal to its default is left out.
_ROUTE_DEFAULTS: dict[str, Any] = {
    "base_url": None, "router_query": "", "model": None, "model_key": "model", "version": None,
    "renames": (), "drops": (), "omits": (), "flatten": (), "spread": (), "size": None, "defaults": (),
    "constants": (), "copies": (), "rewrites": (), "wrap": None, "multipart": False, "job": None, "lora": None,
    "variants": [],
}  # fmt: skip
_BINARY_DEFAULT = {"style": "base64", "mime": "application/octet-stream", "name": "file"}
_RULE_DEFAULTS: dict[str, Any] = {
    "select": (), "first": (), "text_at": (), "each": (), "media": "", "encode": "", "fields": (), "template": None,
}  # fmt: skip
_JOB_DEFAULTS: dict[str, Any] = {
    "result_url": None, "link": (), "status": ("status",), "pending": (), "failed": (),
    "error": ("error",), "interval": 1.0, "first_delay": None, "max_polls": 600,
}  # fmt: skip
_REQUIRED = ("kind", "route", "hub_task")


def _call(name: str, fields: dict[str, str]) -> str:
    return f"{name}({', '.join(f'{k}={v}' for k, v in fields.items())})"


def _differing(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in defaults or defaults[k] != v}


def _rule(rule: dict[str, Any]) -> str:
    return _call("ResponseRule", {k: repr(v) for k, v in _differing(rule, _RULE_DEFAULTS).items()})


def route_source(route: dict[str, Any]) -> str:
    """`TaskRoute(kind=..., route=..., ...)` for one compiled route."""
    fields = {k: repr(route[k]) for k in _REQUIRED}
    for key, value in _differing(route, _ROUTE_DEFAULTS).items():
        if key in _REQUIRED:
            continue
        if key in ("response", "stream"):
            if value != {k: v for k, v in _RULE_DEFAULTS.items()}:
                fields[key] = _rule(value)
        elif key == "binary":
            if value != _BINARY_DEFAULT:
                fields[key] = _call("Binary", {k: repr(v) for k, v in _differing(value, _BINARY_DEFAULT).items()})  # fmt: skip
        elif key == "job":
            fields[key] = _call("JobSpec", {k: repr(v) for k, v in _differing(value, _JOB_DEFAULTS).items()})  # fmt: skip
        elif key == "lora":
            fields[key] = _call("Lora", {k: repr(v) for k, v in value.items()})
        elif key == "size":
            fields[key] = _call("Size", {k: repr(v) for k, v in value.items()})
        elif key == "version":
            fields[key] = _call("Version", {k: repr(v) for k, v in value.items()})
        elif key == "variants":
            fields[key] = (
                "("
                + "".join(
                    f"Variant(contains={v['contains']!r}, route={route_source(v['route'])}), "
                    for v in value
                )
                + ")"
            )
        else:
            fields[key] = repr(value)
    return _call("TaskRoute", fields)
