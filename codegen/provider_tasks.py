"""One (provider, task) entry of `schemas/providers/<name>.json`: validated against the task's
binding and compiled into the keyword arguments of the runtime's `TaskRoute`.

A protocol kind gives defaults (route, model placement, parameter placement, binary form,
response rule); the entry may override each. Every argument an entry names must be an argument
of the task's binding; every key must be known.
"""

from __future__ import annotations

from typing import Any

from codegen.model import Task
from codegen.provider_checks import Checker, Where
from codegen.provider_rules import compile_job, compile_rule

_COMPLETION_FIELDS = {
    "generated_text": "choices.0.text",
    "details.finish_reason": "choices.0.finish_reason",
    "details.seed": "choices.0.seed",
}
_COMPLETION_STREAM = {
    "token.text": "choices.0.text",
    "details.finish_reason": "choices.0.finish_reason",
}
_SEGMENTS = {
    "text": "$text",
    "chunks": {"$each": "segments", "$do": {"text": "$text", "timestamp": ["$start", "$end"]}},
}
_PROVIDER_JSON = {
    "model": None,
    "parameters": "root",
    "binary": {"style": "data-url"},
    "needs": "input",
}
KINDS: dict[str, dict[str, Any]] = {
    # kind → defaults. "input": the key the main (first positional) argument is sent as.
    "chat-completions": {
        "route": "/v1/chat/completions",
        "model": "first",
        "hub_task": "conversational",
        "needs": "chat",
    },
    "text-completions": {
        "route": "/v1/completions",
        "model": "last",
        "input": "prompt",
        "parameters": "root",
        "omit": {"details": False, "do_sample": False, "return_full_text": False, "stop": []},
        "response": {"fields": _COMPLETION_FIELDS},
        "stream": {"fields": _COMPLETION_STREAM},
        "needs": "text",
    },
    "embeddings": {
        "route": "/v1/embeddings",
        "model": "first",
        "input": "input",
        "parameters": "root",
        "response": {"select": "data", "each": "embedding"},
        "needs": "text",
    },
    "speech": {
        "route": "/v1/audio/speech",
        "model": "last",
        "input": "input",
        "parameters": "root",
        "response": {"media": "raw"},
        "needs": "text",
    },
    "transcription": {
        "route": "/v1/audio/transcriptions",
        "model": "last",
        "input": "file",
        "parameters": "root",
        "multipart": True,
        "binary": {"style": "file", "name": "audio.wav"},
        "response": {"template": _SEGMENTS},
        "needs": "binary",
    },
    "json": _PROVIDER_JSON,
    "job": _PROVIDER_JSON,  # and a `job`
    "hf-task": {"route": "/models/{model}", "needs": None},
}
_HF_ROUTES = {
    "pipeline": "/models/{model}/pipeline/{task}",
    "chat": "/models/{model}/v1/chat/completions",
}
_TASK_KEYS = {
    "$comment",
    "kind",
    "route",
    "hub_task",
    "base_url",
    "router_query",
    "model",
    "version",
    "input",
    "parameters",
    "rename",
    "drop",
    "omit",
    "rewrite",
    "spread",
    "size",
    "defaults",
    "constants",
    "copy",
    "wrap",
    "binary",
    "response",
    "stream",
    "job",
    "lora",
    "variants",
}
_VARIANT_KEYS = (_TASK_KEYS - {"kind", "hub_task", "variants"}) | {"contains"}


def compile_task(check: Checker, where: Where, data: Any, task: Task) -> dict[str, Any]:
    """The `TaskRoute` keyword arguments of one entry (variants compiled the same way)."""
    entry = check.keys(where, data, _TASK_KEYS)
    kind = entry.get("kind")
    if kind not in KINDS:
        raise check.fail(
            (*where, "kind"), f"unknown protocol kind {kind!r} (known: {sorted(KINDS)})"
        )
    defaults = dict(KINDS[kind])
    if kind == "hf-task":
        defaults["route"] = _HF_ROUTES.get(task.route, defaults["route"])
        defaults["model"] = "last" if task.model_in_body else None
    _check_needs(check, where, kind, defaults.get("needs"), task)
    if (kind == "job") != ("job" in entry):
        raise check.fail(where, "kind 'job' needs a `job`; other kinds have none")
    if "route" not in entry and "route" not in defaults:
        raise check.fail(where, f"kind {kind!r} needs a `route`")
    out = _route(check, where, {**defaults, **entry}, task)
    out["kind"] = kind
    out["hub_task"] = check.string(
        (*where, "hub_task"), entry.get("hub_task", defaults.get("hub_task", task.task))
    )
    variants = entry.get("variants", [])
    if not isinstance(variants, list):
        raise check.fail((*where, "variants"), "expected a list of objects")
    out["variants"] = []
    for i, variant in enumerate(variants):
        spot = (*where, "variants", i)
        overrides = check.keys(spot, variant, _VARIANT_KEYS)
        contains = tuple(
            s.lower() for s in check.strings((*spot, "contains"), overrides.get("contains"))
        )
        merged = {**defaults, **entry, **{k: v for k, v in overrides.items() if k != "contains"}}
        merged.pop("variants", None)
        route = _route(check, spot, merged, task)
        route.update(kind=kind, hub_task=out["hub_task"], variants=[])
        out["variants"].append({"contains": contains, "route": route})
    return out


def _check_needs(check: Checker, where: Where, kind: str, needs: Any, task: Task) -> None:
    binary = any(a.kind for a in task.positional)
    problem = {
        "chat": task.route != "chat",
        "text": task.body != "json" or not task.positional,
        "binary": not binary,
        "input": not task.positional,
    }.get(needs, False)
    if problem:
        wanted = {
            "chat": "a chat task",
            "text": "a JSON task with a main input",
            "binary": "a task with a binary main input",
            "input": "a task with a main input",
        }[needs]
        raise check.fail((*where, "kind"), f"kind {kind!r} needs {wanted}, not {task.task!r}")


def _route(check: Checker, where: Where, entry: dict[str, Any], task: Task) -> dict[str, Any]:
    args = {a.name: a for a in task.arguments if not a.is_model}
    renames: dict[str, tuple[str, Any]] = {}
    if "input" in entry:
        renames[task.positional[0].name] = _target(check, (*where, "input"), entry["input"])
    for arg, new in check.keys((*where, "rename"), entry.get("rename", {}), set(args)).items():
        renames[arg] = _target(check, (*where, "rename", arg), new)
    drops = check.strings((*where, "drop"), entry.get("drop", []))
    omit = check.keys((*where, "omit"), entry.get("omit", {}), set(args))
    spread = check.strings((*where, "spread"), entry.get("spread", []))
    if spread and entry.get("parameters") != "root":
        raise check.fail((*where, "spread"), '`spread` moves root keys: it needs parameters "root"')
    for key, names in (("drop", drops), ("spread", spread)):
        for i, arg in enumerate(names):
            if arg not in args:
                raise check.fail(
                    (*where, key, i),
                    f"{arg!r} is not an argument of {task.task!r} (known: {sorted(args)})",
                )
    route = check.string((*where, "route"), entry.get("route"))
    if not route.startswith("/"):
        raise check.fail((*where, "route"), "a route starts with '/'")
    placement = check.choice(
        (*where, "parameters"), entry.get("parameters", "nested"), ("root", "nested")
    )
    return {
        "route": route,
        "base_url": check.string((*where, "base_url"), entry["base_url"], url=True).rstrip("/")
        if "base_url" in entry
        else None,
        "router_query": check.string((*where, "router_query"), entry["router_query"])
        if "router_query" in entry
        else "",
        "model": check.choice((*where, "model"), entry.get("model"), ("first", "last", None)),
        "version": _version(check, (*where, "version"), entry.get("version")),
        "renames": tuple(
            (args[a].wire, new, template) for a, (new, template) in sorted(renames.items())
        ),
        "drops": tuple(sorted({args[a].wire for a in drops})),
        "omits": tuple(sorted((args[a].wire, v) for a, v in omit.items())),
        "flatten": ("parameters",) if placement == "root" else (),
        "spread": tuple(args[a].wire[-1] for a in spread),
        "size": _size(check, (*where, "size"), entry.get("size")),
        "defaults": tuple(
            sorted(check.keys((*where, "defaults"), entry.get("defaults", {})).items())
        ),
        "constants": tuple(
            sorted(check.keys((*where, "constants"), entry.get("constants", {})).items())
        ),
        "copies": _copies(check, (*where, "copy"), entry.get("copy", [])),
        "rewrites": _rewrites(check, (*where, "rewrite"), entry.get("rewrite", [])),
        "wrap": check.string((*where, "wrap"), entry["wrap"]) if "wrap" in entry else None,
        "binary": _binary(check, (*where, "binary"), entry.get("binary", {})),
        "multipart": check.boolean((*where, "multipart"), entry.get("multipart", False)),
        "response": compile_rule(check, (*where, "response"), entry.get("response", {})),
        "stream": compile_rule(check, (*where, "stream"), entry.get("stream", {})),
        "job": compile_job(check, (*where, "job"), entry["job"]) if "job" in entry else None,
        "lora": _lora(check, (*where, "lora"), entry["lora"]) if "lora" in entry else None,
    }


def _lora(check: Checker, where: Where, data: Any) -> dict[str, Any]:
    spec = check.keys(where, data, {"key", "template"})
    if "template" not in spec:
        raise check.fail(where, "a `lora` has a `key` and a `template`")
    return {"key": check.string((*where, "key"), spec.get("key")), "template": spec["template"]}


def _target(check: Checker, where: Where, value: Any) -> tuple[str, Any]:
    """A rename's new key, and the template its value is put in (None: as it is)."""
    if isinstance(value, str):
        return check.string(where, value), None
    spec = check.keys(where, value, {"key", "template"})
    if "template" not in spec:
        raise check.fail(where, "a rename object has `key` and `template`")
    return check.string((*where, "key"), spec.get("key")), spec["template"]


def _version(check: Checker, where: Where, data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    spec = check.keys(where, data, {"separator", "route", "key"})
    return {k: check.string((*where, k), spec.get(k)) for k in ("separator", "route", "key")}


def _size(check: Checker, where: Where, data: Any) -> dict[str, Any] | None:
    if data is None:
        return None
    spec = check.keys(where, data, {"key", "style"})
    return {
        "key": check.string((*where, "key"), spec.get("key")),
        "style": check.choice((*where, "style"), spec.get("style"), ("x", "object")),
    }


def _copies(check: Checker, where: Where, data: Any) -> tuple[tuple[str, str, bool], ...]:
    if not isinstance(data, list):
        raise check.fail(where, "expected a list of {from, to, list} objects")
    out = []
    for i, item in enumerate(data):
        spec = check.keys((*where, i), item, {"from", "to", "list"})
        out.append(
            (
                check.string((*where, i, "from"), spec.get("from")),
                check.string((*where, i, "to"), spec.get("to")),
                check.boolean((*where, i, "list"), spec.get("list", False)),
            )
        )
    return tuple(out)


def _rewrites(check: Checker, where: Where, data: Any) -> tuple[Any, ...]:
    if not isinstance(data, list):
        raise check.fail(where, "expected a list of {at, when, template} objects")
    out = []
    for i, item in enumerate(data):
        spec = check.keys((*where, i), item, {"$comment", "at", "when", "template"})
        if "template" not in spec:
            raise check.fail((*where, i), "a rewrite has a `template`")
        when = check.keys((*where, i, "when"), spec.get("when", {}))
        out.append(
            (
                check.string((*where, i, "at"), spec.get("at")),
                tuple(sorted(when.items())),
                spec["template"],
            )
        )
    return tuple(out)


def _binary(check: Checker, where: Where, data: Any) -> dict[str, Any]:
    spec = check.keys(where, data, {"style", "mime", "name"})
    return {
        "style": check.choice(
            (*where, "style"), spec.get("style", "base64"), ("base64", "data-url", "file")
        ),
        "mime": check.string((*where, "mime"), spec.get("mime", "application/octet-stream")),
        "name": check.string((*where, "name"), spec.get("name", "file")),
    }
