"""Stage 3: a task's binding.json, validated and turned into the intermediate model (`Task`).

Every key of the binding is checked here, and every mistake is a `SchemaError` naming
binding.json and the JSON pointer of the offending value. Types come from the task's rendered
dataclasses (`schema_types.TypeTable`), checks from its schema. Nothing here knows any
particular task: a binding is data, and the same rules apply to all of them.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codegen.errors import SchemaError, pointer
from codegen.load import RawTask, task_prefix
from codegen.model import CALL_OPTION, Argument, Check, FieldSelect, Response, Stream, Task
from codegen.render_types import render_types
from codegen.schema_types import (
    Property,
    TypeTable,
    check,
    describe,
    is_object,
    lookup,
    optional,
    types_of,
)

ROUTES = ("task", "pipeline", "chat")
BODIES = ("json", "raw", "raw-or-json")
KINDS = ("binary", "image")
ENCODINGS = ("base64", "comma-join", "list")
RESPONSE_KINDS = ("json", "array", "image", "bytes")
SHAPES = ("instance", "list", "first", "nested-first", "one-or-many", "first-or-instance")
ERROR_MAPS = ("text-generation",)

_BINDING_KEYS = {
    "method", "summary", "returns", "route", "accept", "body", "model_in_body", "extra_kwargs",
    "errors", "arguments", "response", "stream", "description", "alias",
}  # fmt: skip
_ARGUMENT_KEYS = {
    "name", "at", "wire", "positional", "kind", "encode", "default", "absent", "whole",
    "deprecated", "requires", "only_with", "description", "spread",
}  # fmt: skip
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

MODEL_DESCRIPTION = (
    "The model to use: a model id on the Hugging Face Hub or the URL of a deployed Inference "
    "Endpoint (or any compatible server). Overrides the client's model; when neither is set, the "
    "recommended model for the task is used."
)


class _Ctx:
    """Error context (which file) and the task's types, for every step."""

    def __init__(self, raw: RawTask, types: TypeTable) -> None:
        self.raw = raw
        self.types = types
        self.defs: dict[str, Any] = raw.bundle["$defs"]
        self.binding_path = raw.folder / "binding.json"

    def fail(self, where: tuple[object, ...], message: str) -> SchemaError:
        return SchemaError(self.binding_path, pointer(*where), message)


def build_task(raw: RawTask, types: TypeTable | None = None, schemas_root: str = "schemas") -> Task:
    """The model of one task; `types` is what `render_types(raw)` gave (rendered when omitted)."""
    ctx = _Ctx(raw, types if types is not None else TypeTable.from_source(render_types(raw)))
    b = raw.binding
    for key in b:
        if key not in _BINDING_KEYS:
            raise ctx.fail((key,), f"unknown binding key {key!r}")
    method = _require_str(ctx, b, "method")
    if not _IDENT.match(method):
        raise ctx.fail(("method",), f"method name {method!r} is not a snake_case identifier")
    route = _choice(ctx, b, "route", ROUTES, "task")
    body = _choice(ctx, b, "body", BODIES, "json")
    errors = _choice(ctx, b, "errors", ERROR_MAPS, None)
    input_root = ctx.defs[raw.roots["input"]]

    arguments = tuple(
        _argument(ctx, spec, i, input_root) for i, spec in enumerate(_list(ctx, b, "arguments"))
    )
    names = [a.name for a in arguments]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ctx.fail(("arguments", i, "name"), f"argument {name!r} appears twice")
        if name == CALL_OPTION:
            raise ctx.fail(("arguments", i, "name"), f"{name!r} is reserved for the call option")
    if sum(a.is_model for a in arguments) != 1:
        raise ctx.fail(("arguments",), 'exactly one argument must be {"name": "model"}')
    seen_keyword = False
    for i, a in enumerate(arguments):
        if a.positional and seen_keyword:
            raise ctx.fail(("arguments", i), "positional arguments must come before keyword ones")
        seen_keyword = seen_keyword or not a.positional
        for other in a.requires:
            if other not in names:
                raise ctx.fail(("arguments", i, "requires"), f"unknown argument {other!r}")
        if a.only_with is not None and a.only_with not in names:
            raise ctx.fail(("arguments", i, "only_with"), f"unknown argument {a.only_with!r}")
    binary = [a for a in arguments if a.kind]
    if body != "json" and len(binary) != 1:
        raise ctx.fail(("body",), f"body {body!r} needs exactly one binary argument")

    return Task(
        task=raw.task,
        module=raw.task.replace("-", "_"),
        prefix=task_prefix(raw.task),
        method=method,
        const=method.upper(),
        summary=_require_str(ctx, b, "summary"),
        description=str(b.get("description", "")),
        returns_doc=_require_str(ctx, b, "returns"),
        route=route,
        body=body,
        accept=_opt_str(ctx, b, "accept"),
        model_in_body=_path(_opt_str(ctx, b, "model_in_body")),
        extra_kwargs=_path(b["extra_kwargs"]) if "extra_kwargs" in b else None,
        errors=errors,
        arguments=arguments,
        response=_response(ctx, b, arguments),
        stream=_stream(ctx, b, arguments),
        class_names=tuple(sorted(ctx.defs)),
        sources=tuple(f"{schemas_root}/{p.parent.name}/{p.name}" for p in raw.sources),
        alias=_alias(ctx, b),
    )


def _argument(ctx: _Ctx, spec: Any, i: int, root: dict[str, Any]) -> Argument:
    where: tuple[object, ...] = ("arguments", i)
    if not isinstance(spec, dict):
        raise ctx.fail(where, "an argument must be an object")
    for key in spec:
        if key not in _ARGUMENT_KEYS:
            raise ctx.fail((*where, key), f"unknown argument key {key!r}")
    name = _require_str(ctx, spec, "name", where)
    if not _IDENT.match(name) or keyword.iskeyword(name):
        raise ctx.fail((*where, "name"), f"{name!r} is not a valid parameter name")
    if name == "model":
        return Argument(
            name="model", annotation="str | None", default="None", description=MODEL_DESCRIPTION,
            is_model=True,
        )  # fmt: skip
    if "spread" in spec:
        return _spread_argument(ctx, spec, name, where)
    at = _require_str(ctx, spec, "at", where)
    prop = lookup(root, at, ctx.defs)
    if prop is None:
        raise ctx.fail((*where, "at"), f"input.json has no property {at!r}")
    kind = _choice(ctx, spec, "kind", KINDS, None, where)
    encode = _choice(ctx, spec, "encode", ENCODINGS, None, where)
    _check_encoding(ctx, encode, prop, (*where, "encode"))
    positional = bool(spec.get("positional", False))
    has_default = "default" in spec
    default_value = spec.get("default")
    whole = bool(spec.get("whole", False))
    field: tuple[str, str] | None = None
    if kind == "binary":
        annotation = "BinaryInput"
    elif kind == "image":
        annotation = "ImageInput"
    elif whole:
        annotation = "Mapping[str, Any]"
    else:
        rendered = ctx.types.field(prop.owner, prop.name)
        if rendered is None:
            raise ctx.fail(
                (*where, "at"), f"no field {prop.name!r} was rendered in class {prop.owner!r}"
            )
        annotation = ctx.types.argument(rendered)
        field = (prop.owner, prop.name)
    required_arg = positional and not has_default and prop.required
    if not required_arg and (not has_default or default_value is None):
        annotation = optional(annotation)
    description = spec.get("description") or describe(prop.schema, ctx.defs)
    if not description:
        raise ctx.fail((*where, "at"), f"the property {at!r} has no description")
    requires = spec.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ctx.fail((*where, "requires"), "`requires` must be a list of argument names")
    schema_check = check(prop.schema, ctx.defs, required=required_arg and kind is None)
    return Argument(
        name=name,
        annotation=annotation,
        default=None if required_arg else repr(default_value),
        description=description,
        positional=positional,
        wire=_path(_opt_str(ctx, spec, "wire", where) or at),
        kind=kind,
        encode=encode,
        absent=spec.get("absent"),
        whole=whole,
        deprecated=_opt_str(ctx, spec, "deprecated", where),
        requires=tuple(requires),
        only_with=_opt_str(ctx, spec, "only_with", where),
        check=schema_check if kind is None and not whole else Check(required=required_arg),
        field=field,
    )


def _spread_argument(
    ctx: _Ctx, spec: dict[str, Any], name: str, where: tuple[object, ...]
) -> Argument:
    """A dict whose keys are merged into the object at `spread` ("": the root): what the schema
    does not know (a provider's own parameters)."""
    if not isinstance(spec["spread"], str) or set(spec) - {"name", "spread", "description"}:
        raise ctx.fail(
            where, 'a `spread` argument has only a name, a "spread" path and a description'
        )
    description = _require_str(ctx, spec, "description", where)
    wire = (*_path(spec["spread"]), "*")
    return Argument(name=name, annotation="Mapping[str, Any] | None", default="None", description=description, wire=wire, spread=True)  # fmt: skip


def _check_encoding(
    ctx: _Ctx, encode: str | None, prop: Property, where: tuple[object, ...]
) -> None:
    """An encoding must fit the property's schema (the runtime relies on it)."""
    types = types_of(prop.schema, ctx.defs)
    if encode == "comma-join" and types != ("list",):
        raise ctx.fail(where, '"comma-join" needs an array property')
    if encode == "list" and ("list" not in types or len(types) < 2):
        raise ctx.fail(
            where, '"list" needs a property that is an array or a single value (`oneOf`)'
        )


def _response(ctx: _Ctx, b: dict[str, Any], args: tuple[Argument, ...]) -> Response:
    spec = b.get("response")
    if not isinstance(spec, dict):
        raise ctx.fail(("response",), "`response` must be an object")
    where = ("response",)
    kind = _choice(ctx, spec, "kind", RESPONSE_KINDS, "json", where)
    shape = _choice(ctx, spec, "shape", SHAPES, "instance", where)
    type_name = _opt_str(ctx, spec, "type", where)
    if type_name is not None and type_name not in ctx.defs:
        raise ctx.fail((*where, "type"), f"no schema titled {type_name!r} in this task")
    output_root = ctx.raw.roots["output"]
    plain = kind == "json" and type_name is None
    if kind == "array":
        annotation = "NDArray[np.float32]"
    elif kind == "image":
        annotation = "Image"
    elif kind == "bytes":
        annotation = "bytes"
    elif type_name is None:
        if is_object(ctx.defs[output_root], ctx.defs):
            raise ctx.fail(
                (*where, "type"), "an object response must name its `type` (to be decoded into)"
            )
        annotation = ctx.types.result(output_root)
    else:
        annotation = {
            "instance": type_name,
            "first": type_name,
            "first-or-instance": type_name,
            "list": f"list[{type_name}]",
            "nested-first": f"list[{type_name}]",
            "one-or-many": f"{type_name} | list[{type_name}]",
        }[shape]
    zip_spec = spec.get("zip", {})
    if not isinstance(zip_spec, dict):
        raise ctx.fail((*where, "zip"), "`zip` must map list fields to element fields")
    field, field_annotation = _field(ctx, spec, type_name, args, where)
    return Response(
        kind=kind,
        shape=shape,
        type_name=type_name,
        annotation=annotation,
        zip=tuple((str(k), str(v)) for k, v in zip_spec.items()),
        field=field,
        field_annotation=field_annotation,
        check=check(ctx.defs[output_root], ctx.defs, required=True) if plain else None,
    )


def _stream(ctx: _Ctx, b: dict[str, Any], args: tuple[Argument, ...]) -> Stream | None:
    spec = b.get("stream")
    if spec is None:
        return None
    where = ("stream",)
    if not isinstance(spec, dict):
        raise ctx.fail(where, "`stream` must be an object")
    when = _require_str(ctx, spec, "when", where)
    if when not in [a.name for a in args]:
        raise ctx.fail((*where, "when"), f"no argument named {when!r}")
    type_name = _require_str(ctx, spec, "type", where)
    if type_name not in ctx.defs:
        raise ctx.fail((*where, "type"), f"no schema titled {type_name!r} in this task")
    field, field_annotation = _field(ctx, spec, type_name, args, where)
    return Stream(when, type_name, type_name, field, field_annotation)


def _field(
    ctx: _Ctx,
    spec: dict[str, Any],
    type_name: str | None,
    args: tuple[Argument, ...],
    where: tuple[object, ...],
) -> tuple[FieldSelect | None, str | None]:
    f = spec.get("field")
    if f is None:
        return None, None
    if (
        not isinstance(f, dict)
        or not isinstance(f.get("name"), str)
        or not isinstance(f.get("unless"), str)
    ):
        raise ctx.fail(
            (*where, "field"), '`field` must be {"name": "<dotted path>", "unless": "<argument>"}'
        )
    if type_name is None:
        raise ctx.fail((*where, "field"), "`field` needs a `type`")
    if f["unless"] not in [a.name for a in args]:
        raise ctx.fail((*where, "field", "unless"), f"no argument named {f['unless']!r}")
    prop = lookup(ctx.defs[type_name], f["name"], ctx.defs)
    rendered = ctx.types.field(prop.owner, prop.name) if prop is not None else None
    if rendered is None:
        raise ctx.fail((*where, "field", "name"), f"{type_name} has no field {f['name']!r}")
    return FieldSelect(_path(f["name"]), f["unless"]), ctx.types.result(rendered.annotation)


def _alias(ctx: _Ctx, b: dict[str, Any]) -> tuple[str, ...]:
    """`"alias": "chat.completions.create"`: dotted identifiers, at least a namespace and a name."""
    value = _opt_str(ctx, b, "alias")
    if value is None:
        return ()
    parts = tuple(value.split("."))
    if len(parts) < 2 or not all(_IDENT.match(p) and not keyword.iskeyword(p) for p in parts):
        raise ctx.fail(
            ("alias",),
            f"alias {value!r} must be dotted snake_case identifiers, like 'chat.completions.create'",
        )
    return parts


def check_aliases(tasks: Sequence[Task], folders: Sequence[Path]) -> None:
    """Aliases of different tasks must not collide with each other nor start with a method name
    (`a.b` and `a.b.c` collide: `a.b` cannot be both a method and a namespace)."""
    methods = {t.method for t in tasks}
    seen: dict[tuple[str, ...], str] = {}
    for task, folder in zip(tasks, folders, strict=True):
        if not task.alias:
            continue
        dotted = ".".join(task.alias)
        problem = None
        if task.alias[0] in methods:
            problem = f"alias {dotted!r} starts with the method name {task.alias[0]!r}"
        for path, other in seen.items():
            common = min(len(path), len(task.alias))
            if path[:common] == task.alias[:common]:
                problem = f"alias {dotted!r} collides with {'.'.join(path)!r} of {other}"
        if problem is not None:
            raise SchemaError(folder / "binding.json", "/alias", problem)
        seen[task.alias] = task.task


# -- small validators ----------------------------------------------------------------------------


def _path(value: str | None) -> tuple[str, ...]:
    return tuple(value.split(".")) if value else ()


def _list(ctx: _Ctx, b: dict[str, Any], key: str) -> list[Any]:
    value = b.get(key)
    if not isinstance(value, list) or not value:
        raise ctx.fail((key,), f"`{key}` must be a non-empty list")
    return value


def _require_str(ctx: _Ctx, b: dict[str, Any], key: str, where: tuple[object, ...] = ()) -> str:
    value = b.get(key)
    if not isinstance(value, str) or not value:
        raise ctx.fail((*where, key), f"`{key}` is required and must be a non-empty string")
    return value


def _opt_str(ctx: _Ctx, b: dict[str, Any], key: str, where: tuple[object, ...] = ()) -> str | None:
    value = b.get(key)
    if value is not None and not isinstance(value, str):
        raise ctx.fail((*where, key), f"`{key}` must be a string")
    return value


def _choice(
    ctx: _Ctx, b: dict[str, Any], key: str, allowed: tuple[str, ...], default: str | None,
    where: tuple[object, ...] = (),
) -> Any:  # fmt: skip
    value = b.get(key, default)
    if value is not None and value not in allowed:
        raise ctx.fail((*where, key), f"`{key}` must be one of {', '.join(allowed)}; got {value!r}")
    return value
