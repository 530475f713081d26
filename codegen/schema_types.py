"""Schema typing: the Python annotations of method arguments and results, and argument Checks.

There is ONE translator from JSON Schema to Python types: datamodel-code-generator, configured in
`render_types.py`, which renders every task's dataclasses. `TypeTable` reads back what it
rendered (each class's field annotations and each type alias), and the method annotations are
derived from those, mechanically:

- an argument accepts what the field holds, widened for callers: `list[X]` → `Sequence[X]`,
  `dict[K, V]` → `Mapping[K, V]`, a generated class `C` → `C | Mapping[str, Any]` (a plain dict
  is accepted wherever a typed object is), a type alias that is not an enum is expanded;
- a result is the field's (or the output root's) type with non-enum aliases expanded.

So a value of a dataclass field's type is always accepted by the argument bound to that field
(tests/unit/test_typing.py checks this with mypy for every argument), and a change of the type
mapping (e.g. a datamodel-code-generator option) changes the types and the methods alike.

The runtime `Check` of an argument (types, enum, bounds) is computed here from the schema itself.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

import attrs

from codegen.model import Check


@attrs.frozen
class Field:
    """One field of a generated dataclass, as datamodel-code-generator rendered it."""

    annotation: str
    optional: bool
    """True when the field has a default: the schema does not require it, and the renderer
    added `| None` to its annotation for that reason."""


@attrs.frozen
class TypeTable:
    """The classes and type aliases rendered for one task (names → annotations)."""

    classes: Mapping[str, Mapping[str, Field]]
    aliases: Mapping[str, str]

    @classmethod
    def from_source(cls, source: str) -> TypeTable:
        """Read the field annotations and aliases of a rendered types module."""
        classes: dict[str, dict[str, Field]] = {}
        aliases: dict[str, str] = {}
        for node in ast.parse(source).body:
            if isinstance(node, ast.ClassDef):
                classes[node.name] = {
                    item.target.id: Field(ast.unparse(item.annotation), item.value is not None)
                    for item in node.body
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
                }
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and ast.unparse(node.annotation) == "TypeAlias"
                and node.value is not None
            ):
                aliases[node.target.id] = ast.unparse(node.value)
        return cls(classes, aliases)

    def field(self, owner: str, name: str) -> Field | None:
        """The field rendered for property `name` of class `owner` (its name normalised as the
        runtime decoder does, should the renderer have renamed it)."""
        fields = self.classes.get(owner, {})
        return fields.get(name) or fields.get(name.replace("-", "_").replace(" ", "_").lower())

    def argument(self, field: Field) -> str:
        """The annotation of a method argument bound to `field` (its None added by the binding)."""
        parts = self._convert(ast.parse(field.annotation, mode="eval").body, accept=True)
        if field.optional:
            parts = [p for p in parts if p != "None"] or ["None"]
        return _union(parts)

    def result(self, annotation: str) -> str:
        """A result annotation: `annotation` with non-enum aliases expanded."""
        return _union(self._convert(ast.parse(annotation, mode="eval").body, accept=False))

    def is_enum(self, name: str) -> bool:
        return self.aliases.get(name, "").startswith("Literal[")

    def _convert(self, node: ast.expr, *, accept: bool) -> list[str]:
        """Union members of the annotation `node`, as arguments (accept) or results see it."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._convert(node.left, accept=accept) + self._convert(
                node.right, accept=accept
            )
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.classes:
                return [name, "Mapping[str, Any]"] if accept else [name]
            if name in self.aliases and not self.is_enum(name):
                return self._convert(ast.parse(self.aliases[name], mode="eval").body, accept=accept)
            return [name]
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            base = node.value.id
            if base == "list":
                item = _union(self._convert(node.slice, accept=accept))
                return [f"Sequence[{item}]" if accept else f"list[{item}]"]
            if base == "dict" and isinstance(node.slice, ast.Tuple) and len(node.slice.elts) == 2:
                key = ast.unparse(node.slice.elts[0])
                value = _union(self._convert(node.slice.elts[1], accept=accept))
                return [f"Mapping[{key}, {value}]" if accept else f"dict[{key}, {value}]"]
        return [ast.unparse(node)]


def _union(parts: list[str]) -> str:
    flat: list[str] = []
    for part in parts:
        if part not in flat:
            flat.append(part)
    if "Any" in flat:
        return "Any"
    return " | ".join(flat)


def optional(annotation: str) -> str:
    """`annotation | None`, unless it already admits None."""
    if annotation == "Any" or annotation.endswith("| None") or annotation == "None":
        return annotation
    return f"{annotation} | None"


# -- walking the bundled schema ----------------------------------------------------------------


def deref(node: Any, defs: Mapping[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


@attrs.frozen
class Property:
    """A property reached by a dotted path: its schema and the class field it becomes."""

    schema: dict[str, Any]
    required: bool
    """Required at every level of the path."""
    owner: str
    """Title of the object schema that holds it: the generated class."""
    name: str


def lookup(root: dict[str, Any], path: str, defs: Mapping[str, Any]) -> Property | None:
    """The property at dotted `path` below `root`, or None when there is none."""
    node: Any = root
    required = True
    owner = ""
    parts = path.split(".")
    for part in parts:
        node = deref(node, defs)
        props = node.get("properties") if isinstance(node, dict) else None
        if not isinstance(props, dict) or part not in props:
            return None
        owner = str(node.get("title", ""))
        required = required and part in node.get("required", [])
        node = props[part]
    return Property(node, required, owner, parts[-1])


def describe(schema: dict[str, Any], defs: Mapping[str, Any]) -> str:
    if schema.get("description"):
        return str(schema["description"])
    target = deref(schema, defs)
    return str(target.get("description", "")) if isinstance(target, dict) else ""


def is_object(schema: Any, defs: Mapping[str, Any]) -> bool:
    target = deref(schema, defs)
    return isinstance(target, dict) and (target.get("type") == "object" or "properties" in target)


# -- runtime checks ------------------------------------------------------------------------------

_CHECK_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "array": "list",
    "object": "dict",
}


def check(schema: dict[str, Any], defs: Mapping[str, Any], *, required: bool) -> Check:
    """What the runtime verifies about a value of `schema` before sending it."""
    target = deref(schema, defs)
    merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    items = _items(merged, defs)
    enum = merged.get("enum")
    return Check(
        types=types_of(schema, defs),
        enum=tuple(enum)
        if isinstance(enum, list) and all(not isinstance(v, (dict, list)) for v in enum)
        else None,
        minimum=merged.get("minimum"),
        maximum=merged.get("maximum"),
        exclusive_minimum=merged.get("exclusiveMinimum"),
        exclusive_maximum=merged.get("exclusiveMaximum"),
        min_items=merged.get("minItems"),
        min_length=merged.get("minLength"),
        item_types=types_of(items, defs) if items else (),
        item_enum=tuple(items["enum"]) if isinstance(items.get("enum"), list) else None,
        required=required,
    )


def _items(schema: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """The item schema of an array, or of the one array branch of a `oneOf`/`anyOf`."""
    if isinstance(schema.get("items"), dict):
        return dict(deref(schema["items"], defs))
    for key in ("oneOf", "anyOf"):
        branches = [deref(s, defs) for s in schema.get(key, [])]
        arrays = [b for b in branches if isinstance(b, dict) and b.get("type") == "array"]
        if len(arrays) == 1 and isinstance(arrays[0].get("items"), dict):
            return dict(deref(arrays[0]["items"], defs))
    return {}


def types_of(schema: Any, defs: Mapping[str, Any]) -> tuple[str, ...]:
    """Python type names a value may have; () means anything."""
    if not isinstance(schema, dict):
        return ()
    target = deref(schema, defs)
    if not isinstance(target, dict):
        return ()
    for key in ("oneOf", "anyOf"):
        if key in target:
            out: list[str] = []
            for sub in target[key]:
                sub_types = types_of(sub, defs)
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
