"""Stage 2: the intermediate model — tasks, arguments, checks and return types as attrs classes.

Everything the templates need is computed here, from the bundled schema and the binding; the
templates only lay it out. Nothing here knows any particular task.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from codegen.errors import SchemaError, pointer
from codegen.load import RawTask, task_prefix

ROUTES = ("task", "pipeline", "chat")
BODIES = ("json", "raw", "raw-or-json")
KINDS = ("binary", "image")
ENCODINGS = ("base64", "comma-join")
RESPONSE_KINDS = ("json", "array", "image", "bytes")
SHAPES = ("instance", "list", "first", "nested-first", "one-or-many", "first-or-instance")
ERROR_MAPS = ("text-generation",)
CALL_OPTION = "max_retries"
"""A keyword every generated method takes besides its task's arguments (a per-call option)."""

_BINDING_KEYS = {
    "method", "summary", "returns", "route", "accept", "body", "model_in_body", "extra_kwargs",
    "errors", "arguments", "response", "stream", "description",
}  # fmt: skip
_ARGUMENT_KEYS = {
    "name", "at", "wire", "positional", "kind", "encode", "default", "absent", "whole",
    "deprecated", "requires", "only_with", "description",
}  # fmt: skip
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

MODEL_DESCRIPTION = (
    "The model to use: a model id on the Hugging Face Hub or the URL of a deployed Inference "
    "Endpoint (or any compatible server). Overrides the client's model; when neither is set, the "
    "recommended model for the task is used."
)


@attrs.frozen
class Check:
    """What the runtime verifies about an argument before any request is sent."""

    types: tuple[str, ...] = ()
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    min_items: int | None = None
    min_length: int | None = None
    item_types: tuple[str, ...] = ()
    item_enum: tuple[Any, ...] | None = None
    required: bool = False


@attrs.frozen
class Argument:
    name: str
    annotation: str
    default: str | None
    """Python source of the default, or None when the argument is required."""
    description: str
    positional: bool = False
    is_model: bool = False
    wire: tuple[str, ...] = ()
    kind: str | None = None
    encode: str | None = None
    absent: Any = None
    whole: bool = False
    deprecated: str | None = None
    requires: tuple[str, ...] = ()
    only_with: str | None = None
    """A boolean argument that has an effect only when this other one is true."""
    check: Check = Check()


@attrs.frozen
class FieldSelect:
    path: tuple[str, ...]
    unless: str


@attrs.frozen
class Response:
    kind: str
    shape: str
    type_name: str | None
    annotation: str
    zip: tuple[tuple[str, str], ...] = ()
    field: FieldSelect | None = None
    field_annotation: str | None = None
    check: Check | None = None
    """For a plain JSON result (no generated type): what the decoded value must be."""


@attrs.frozen
class Stream:
    when: str
    type_name: str
    annotation: str
    field: FieldSelect | None = None
    field_annotation: str | None = None


@attrs.frozen
class Task:
    task: str
    module: str
    prefix: str
    method: str
    const: str
    summary: str
    description: str
    returns_doc: str
    route: str
    body: str
    accept: str | None
    model_in_body: tuple[str, ...]
    extra_kwargs: tuple[str, ...] | None
    errors: str | None
    arguments: tuple[Argument, ...]
    response: Response
    stream: Stream | None
    class_names: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def positional(self) -> tuple[Argument, ...]:
        return tuple(a for a in self.arguments if a.positional)

    @property
    def keyword(self) -> tuple[Argument, ...]:
        return tuple(a for a in self.arguments if not a.positional)


class _Ctx:
    """Error context: which file and where, for every message."""

    def __init__(self, raw: RawTask) -> None:
        self.raw = raw
        self.binding_path = raw.folder / "binding.json"

    def fail(self, where: tuple[object, ...], message: str) -> SchemaError:
        return SchemaError(self.binding_path, pointer(*where), message)


def build_task(raw: RawTask, schemas_root: str = "schemas") -> Task:
    ctx = _Ctx(raw)
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
    defs = raw.bundle["$defs"]
    input_root = defs[raw.roots["input"]]

    arguments = tuple(
        _argument(ctx, spec, i, defs, input_root)
        for i, spec in enumerate(_list(ctx, b, "arguments"))
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

    response = _response(ctx, b, defs, raw, arguments)
    stream = _stream(ctx, b, defs, arguments)
    prefix = task_prefix(raw.task)
    return Task(
        task=raw.task,
        module=raw.task.replace("-", "_"),
        prefix=prefix,
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
        response=response,
        stream=stream,
        class_names=tuple(sorted(defs)),
        sources=tuple(f"{schemas_root}/{p.parent.name}/{p.name}" for p in raw.sources),
    )


def _argument(ctx: _Ctx, spec: Any, i: int, defs: dict[str, Any], root: dict[str, Any]) -> Argument:
    where: tuple[object, ...] = ("arguments", i)
    if not isinstance(spec, dict):
        raise ctx.fail(where, "an argument must be an object")
    for key in spec:
        if key not in _ARGUMENT_KEYS:
            raise ctx.fail((*where, key), f"unknown argument key {key!r}")
    name = _require_str(ctx, spec, "name", where)
    if not _IDENT.match(name):
        raise ctx.fail((*where, "name"), f"{name!r} is not a valid parameter name")
    if name == "model":
        return Argument(
            name="model", annotation="str | None", default="None", description=MODEL_DESCRIPTION,
            is_model=True,
        )  # fmt: skip
    at = _require_str(ctx, spec, "at", where)
    schema, required = _lookup(ctx, root, at, defs, (*where, "at"))
    kind = _choice(ctx, spec, "kind", KINDS, None, where)
    encode = _choice(ctx, spec, "encode", ENCODINGS, None, where)
    positional = bool(spec.get("positional", False))
    has_default = "default" in spec
    default_value = spec.get("default")
    whole = bool(spec.get("whole", False))
    if kind == "binary":
        annotation = "BinaryInput"
    elif kind == "image":
        annotation = "ImageInput"
    elif whole:
        annotation = "Mapping[str, Any]"
    else:
        annotation = python_type(schema, defs, accept_dicts=True)
    required_arg = positional and not has_default and required
    if not required_arg and (not has_default or default_value is None):
        annotation = _optional(annotation)
    default = None if required_arg else repr(default_value)
    description = spec.get("description") or _describe(schema, defs)
    if not description:
        raise ctx.fail((*where, "at"), f"the property {at!r} has no description")
    deprecated = _opt_str(ctx, spec, "deprecated", where)
    requires = spec.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise ctx.fail((*where, "requires"), "`requires` must be a list of argument names")
    wire = _path(_opt_str(ctx, spec, "wire", where) or at)
    check = _check(schema, defs, required=required_arg and kind is None)
    return Argument(
        name=name,
        annotation=annotation,
        default=default,
        description=description,
        positional=positional,
        wire=wire,
        kind=kind,
        encode=encode,
        absent=spec.get("absent"),
        whole=whole,
        deprecated=deprecated,
        requires=tuple(requires),
        only_with=_opt_str(ctx, spec, "only_with", where),
        check=check if kind is None and not whole else Check(required=required_arg),
    )


def _response(
    ctx: _Ctx, b: dict[str, Any], defs: dict[str, Any], raw: RawTask, args: tuple[Argument, ...]
) -> Response:
    spec = b.get("response")
    if not isinstance(spec, dict):
        raise ctx.fail(("response",), "`response` must be an object")
    where = ("response",)
    kind = _choice(ctx, spec, "kind", RESPONSE_KINDS, "json", where)
    shape = _choice(ctx, spec, "shape", SHAPES, "instance", where)
    type_name = _opt_str(ctx, spec, "type", where)
    if type_name is not None and type_name not in defs:
        raise ctx.fail((*where, "type"), f"no schema titled {type_name!r} in this task")
    if kind == "array":
        annotation = "NDArray[np.float32]"
    elif kind == "image":
        annotation = "Image"
    elif kind == "bytes":
        annotation = "bytes"
    elif type_name is None:
        annotation = python_type(defs[raw.roots["output"]], defs, expand_alias=True)
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
    field, field_annotation = _field(ctx, spec, defs, type_name, args, where)
    plain = kind == "json" and type_name is None
    return Response(
        kind=kind,
        shape=shape,
        type_name=type_name,
        annotation=annotation,
        zip=tuple((str(k), str(v)) for k, v in zip_spec.items()),
        field=field,
        field_annotation=field_annotation,
        check=_check(defs[raw.roots["output"]], defs, required=True) if plain else None,
    )


def _stream(
    ctx: _Ctx, b: dict[str, Any], defs: dict[str, Any], args: tuple[Argument, ...]
) -> Stream | None:
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
    if type_name not in defs:
        raise ctx.fail((*where, "type"), f"no schema titled {type_name!r} in this task")
    field, field_annotation = _field(ctx, spec, defs, type_name, args, where)
    return Stream(when, type_name, type_name, field, field_annotation)


def _field(
    ctx: _Ctx,
    spec: dict[str, Any],
    defs: dict[str, Any],
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
    node: Any = defs[type_name]
    for part in f["name"].split("."):
        node = _deref(node, defs)
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        if part not in props:
            raise ctx.fail((*where, "field", "name"), f"{type_name} has no field {f['name']!r}")
        node = props[part]
    return FieldSelect(_path(f["name"]), f["unless"]), python_type(node, defs)


# -- schema helpers --------------------------------------------------------------------------


def _deref(node: Any, defs: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _lookup(
    ctx: _Ctx, root: dict[str, Any], at: str, defs: dict[str, Any], where: tuple[object, ...]
) -> tuple[dict[str, Any], bool]:
    """The property schema at dotted path `at` of the input schema, and whether it is required."""
    node: Any = root
    required = True
    for part in at.split("."):
        node = _deref(node, defs)
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict) or part not in props:
            raise ctx.fail(where, f"input.json has no property {at!r}")
        required = required and part in node.get("required", [])
        node = props[part]
    return node, required


def _describe(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    if schema.get("description"):
        return str(schema["description"])
    target = _deref(schema, defs)
    return str(target.get("description", "")) if isinstance(target, dict) else ""


_PRIMITIVES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "null": "None",
}


def python_type(
    schema: Any, defs: dict[str, Any], *, accept_dicts: bool = False, expand_alias: bool = False
) -> str:
    """The Python annotation for a schema, naming generated classes and aliases."""
    if schema is True or not isinstance(schema, dict) or not schema:
        return "Any"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        target = defs[name]
        if target.get("type") == "object" or "properties" in target:
            return f"{name} | Mapping[str, Any]" if accept_dicts else name
        if expand_alias and "enum" not in target:
            return python_type(target, defs, accept_dicts=accept_dicts)
        if "enum" in target:
            return str(name)
        return python_type(target, defs, accept_dicts=accept_dicts)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            parts = [python_type(s, defs, accept_dicts=accept_dicts) for s in schema[key]]
            return _union(parts)
    if "enum" in schema:
        return "Literal[" + ", ".join(repr(v) for v in schema["enum"]) + "]"
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    t = schema.get("type")
    if isinstance(t, list):
        return _union(
            [python_type({**schema, "type": x}, defs, accept_dicts=accept_dicts) for x in t]
        )
    if t == "array":
        item = python_type(schema.get("items", {}), defs, accept_dicts=accept_dicts)
        # Arguments take any sequence (and mappings below): list is invariant, so a
        # `list[dict[str, str]]` would not type-check against `list[X | dict[str, Any]]`.
        return f"Sequence[{item}]" if accept_dicts else f"list[{item}]"
    if t == "object":
        extra = schema.get("additionalProperties")
        value = (
            python_type(extra, defs, accept_dicts=accept_dicts)
            if isinstance(extra, dict)
            else "Any"
        )
        return f"Mapping[str, {value}]" if accept_dicts else f"dict[str, {value}]"
    if t == "string" and schema.get("format") == "binary":
        return "bytes"
    return _PRIMITIVES.get(str(t), "Any")


def _union(parts: list[str]) -> str:
    flat: list[str] = []
    for part in parts:
        for p in part.split(" | "):
            if p not in flat:
                flat.append(p)
    if "Any" in flat:
        return "Any"
    return " | ".join(flat)


def _optional(annotation: str) -> str:
    if annotation == "Any" or annotation.endswith("| None") or annotation == "None":
        return annotation
    return f"{annotation} | None"


_CHECK_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}


def _check(schema: dict[str, Any], defs: dict[str, Any], *, required: bool) -> Check:
    target = _deref(schema, defs)
    merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    types = _types_of(schema, defs)
    items = _deref(merged.get("items", {}), defs) if isinstance(merged.get("items"), dict) else {}
    enum = merged.get("enum")
    return Check(
        types=types,
        enum=tuple(enum)
        if isinstance(enum, list) and all(not isinstance(v, (dict, list)) for v in enum)
        else None,
        minimum=merged.get("minimum"),
        maximum=merged.get("maximum"),
        exclusive_minimum=merged.get("exclusiveMinimum"),
        exclusive_maximum=merged.get("exclusiveMaximum"),
        min_items=merged.get("minItems"),
        min_length=merged.get("minLength"),
        item_types=_types_of(items, defs) if items else (),
        item_enum=tuple(items["enum"])
        if isinstance(items, dict) and isinstance(items.get("enum"), list)
        else None,
        required=required,
    )


def _types_of(schema: Any, defs: dict[str, Any]) -> tuple[str, ...]:
    """Python type names a value may have; () means anything."""
    if not isinstance(schema, dict):
        return ()
    target = _deref(schema, defs)
    if not isinstance(target, dict):
        return ()
    for key in ("oneOf", "anyOf"):
        if key in target:
            out: list[str] = []
            for sub in target[key]:
                sub_types = _types_of(sub, defs)
                if not sub_types:
                    return ()
                out.extend(t for t in sub_types if t not in out)
            return tuple(out)
    t = target.get("type")
    if t is None and "enum" in target:
        return ()
    names = t if isinstance(t, list) else [t] if t else []
    result = tuple(_CHECK_TYPES[n] for n in names if n in _CHECK_TYPES)
    if "dict" in result and target.get("title"):
        result = (*result, "model")
    return result


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
