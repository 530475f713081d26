"""The answer side of a provider task entry: its response rules and its job, validated and
compiled into the runtime's `ResponseRule` and `JobSpec` fields."""

from __future__ import annotations

from typing import Any

from codegen.provider_checks import Checker, Where

_RULE_KEYS = {"select", "first", "text_at", "each", "media", "encode", "fields", "template"}
_MEDIA = ("url", "base64", "data-url", "raw")
_JOB_KEYS = {
    "$comment",
    "id",
    "status_url",
    "result_url",
    "link",
    "status",
    "pending",
    "done",
    "failed",
    "error",
    "interval",
    "first_delay",
    "max_polls",
}
_TEMPLATE_FIELDS = ("{base}", "{url}", "{query}", "{id}", "{link}")


def compile_rule(check: Checker, where: Where, data: Any) -> dict[str, Any]:
    rule = check.keys(where, data, _RULE_KEYS)
    fields = check.keys((*where, "fields"), rule.get("fields", {}))
    if fields and "template" in rule:
        raise check.fail(where, "a response rule has either `fields` or `template`")
    if "select" in rule and "first" in rule:
        raise check.fail(where, "a response rule has either `select` or `first`")
    if "text_at" in rule and "first" not in rule:
        raise check.fail((*where, "text_at"), "`text_at` is a fallback of `first`")
    media = rule.get("media", "")
    if media:
        check.choice((*where, "media"), media, _MEDIA)
    if "encode" in rule:
        check.choice((*where, "encode"), rule["encode"], ("base64",))
    return {
        "select": check.dotted((*where, "select"), rule["select"]) if "select" in rule else (),
        "first": tuple(
            tuple(p.split(".")) for p in check.strings((*where, "first"), rule.get("first", []))
        ),
        "text_at": tuple(
            tuple(p.split(".")) for p in check.strings((*where, "text_at"), rule.get("text_at", []))
        ),
        "each": check.dotted((*where, "each"), rule["each"]) if "each" in rule else (),
        "media": media,
        "encode": rule.get("encode", ""),
        "fields": tuple(
            (tuple(target.split(".")), check.dotted((*where, "fields", target), source))
            for target, source in fields.items()
        ),
        "template": rule.get("template"),
    }


def compile_job(check: Checker, where: Where, data: Any) -> dict[str, Any]:
    job = check.keys(where, data, _JOB_KEYS)
    for required in ("id", "status_url", "done"):
        if required not in job:
            raise check.fail(where, f"a job needs {required!r}")
    urls = {}
    for key in ("status_url", "result_url"):
        if key in job:
            value = check.string((*where, key), job[key])
            rest = value
            for name in _TEMPLATE_FIELDS:
                rest = rest.replace(name, "")
            if "{" in rest or "}" in rest:
                raise check.fail(
                    (*where, key), f"unknown template field (known: {', '.join(_TEMPLATE_FIELDS)})"
                )
            if "{link}" in value and "link" not in job:
                raise check.fail(
                    (*where, key), "{link} needs `link`, the path of a URL in the submit answer"
                )
            urls[key] = value
    return {
        "id": check.dotted((*where, "id"), job["id"]),
        "status_url": urls["status_url"],
        "result_url": urls.get("result_url"),
        "link": check.dotted((*where, "link"), job["link"]) if "link" in job else (),
        "status": check.dotted((*where, "status"), job.get("status", "status")),
        "pending": _statuses(check, (*where, "pending"), job.get("pending", [])),
        "done": check.strings((*where, "done"), job["done"]),
        "failed": check.strings((*where, "failed"), job.get("failed", [])),
        "error": check.dotted((*where, "error"), job.get("error", "error")),
        "interval": _positive(check, (*where, "interval"), job.get("interval", 1.0)),
        "first_delay": float(check.number((*where, "first_delay"), job["first_delay"]))
        if "first_delay" in job
        else None,
        "max_polls": int(
            check.number((*where, "max_polls"), job.get("max_polls", 600), integer=True)
        ),
    }


def _statuses(check: Checker, where: Where, value: Any) -> tuple[str | None, ...]:
    """Status values; null stands for an answer that has no status (still running)."""
    if not isinstance(value, list):
        raise check.fail(where, "expected a list of strings (or null)")
    return tuple(None if v is None else check.string((*where, i), v) for i, v in enumerate(value))


def _positive(check: Checker, where: Where, value: Any, *, integer: bool = False) -> float:
    number = check.number(where, value, integer=integer)
    if number <= 0:
        raise check.fail(where, "expected a number > 0")
    return int(number) if integer else float(number)
