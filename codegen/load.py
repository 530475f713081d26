"""Stage 1: read a task folder, validate its JSON, and bundle its schemas into one document.

Bundling resolves every `$ref` across files into the document's own `$defs`, so that later
stages (and datamodel-code-generator) see one self-contained schema per task. Definitions that
come from `schemas/common/` are renamed `<TaskPrefix><title>`, giving task-specific class names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

from codegen.errors import SchemaError, pointer

COMMON_DIR = "common"
PROVIDERS_DIR = "providers"
"""Not a task: one data file per Inference Provider (`codegen/providers.py`)."""
SCHEMA_FILES = ("input.json", "output.json", "stream_output.json")
ROOT_FILES = {"input": "input.json", "output": "output.json", "stream": "stream_output.json"}

_KNOWN_TYPES = {"string", "integer", "number", "boolean", "array", "object", "null"}
_SCHEMA_KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "$comment", "title", "description", "type", "properties",
    "required", "items", "enum", "const", "oneOf", "anyOf", "allOf", "default", "examples",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
    "minLength", "maxLength", "additionalProperties", "format", "contentEncoding",
    "contentMediaType", "customTypePath", "nullable", "pattern",
}  # fmt: skip
_DICT_NAMES = frozenset(dir(dict))
"""Names no property may take: every generated type is a dict, and its fields are attributes."""


@attrs.frozen
class RawTask:
    """A task folder as read from disk: its binding and its bundled schema."""

    task: str
    folder: Path
    binding: dict[str, Any]
    bundle: dict[str, Any]
    roots: dict[str, str]
    """Which `$defs` name each root file (input/output/stream) became."""
    sources: tuple[Path, ...]


def task_prefix(task: str) -> str:
    """`text-to-image` → `TextToImage`."""
    return "".join(part[:1].upper() + part[1:] for part in task.split("-"))


def read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(path, "/", f"cannot read file: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaError(path, "/", f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc


def task_folders(schemas_dir: Path) -> list[Path]:
    """Task folders in a stable order: every folder except `common/` that holds a binding."""
    if not schemas_dir.is_dir():
        raise SchemaError(schemas_dir, "/", "schemas directory not found")
    return sorted(
        p
        for p in schemas_dir.iterdir()
        if p.is_dir() and p.name not in (COMMON_DIR, PROVIDERS_DIR) and not p.name.startswith(".")
    )


def load_task(folder: Path) -> RawTask:
    task = folder.name
    binding_path = folder / "binding.json"
    if not binding_path.is_file():
        raise SchemaError(binding_path, "/", "missing binding.json (every task folder needs one)")
    binding = read_json(binding_path)
    if not isinstance(binding, dict):
        raise SchemaError(binding_path, "/", "a binding must be a JSON object")
    bundler = _Bundler(task_prefix(task), folder)
    roots: dict[str, str] = {}
    sources = [binding_path]
    for role, filename in ROOT_FILES.items():
        path = folder / filename
        if not path.is_file():
            if role == "input" or role == "output":
                raise SchemaError(path, "/", f"missing {filename}")
            continue
        roots[role] = bundler.add_root(path)
        sources.append(path)
    sources.extend(sorted(bundler.loaded - set(sources)))
    return RawTask(task, folder, binding, bundler.document(), roots, tuple(sources))


class _Bundler:
    """Collects every schema reachable from a task's root files into one `$defs` table."""

    def __init__(self, prefix: str, folder: Path) -> None:
        self.prefix = prefix
        self.folder = folder.resolve()
        self.defs: dict[str, Any] = {}
        self.origin: dict[str, tuple[Path, str]] = {}
        self.by_target: dict[tuple[Path, str], str] = {}
        self.loaded: set[Path] = set()
        self._docs: dict[Path, Any] = {}

    def document(self) -> dict[str, Any]:
        return {"$defs": dict(sorted(self.defs.items()))}

    def add_root(self, path: Path) -> str:
        return self._target(path.resolve(), "")

    def _doc(self, path: Path) -> Any:
        if path not in self._docs:
            doc = read_json(path)
            _validate_schema(doc, path, ())
            self._docs[path] = doc
            self.loaded.add(path)
        return self._docs[path]

    def _target(self, path: Path, fragment: str) -> str:
        """The `$defs` name for `path#fragment`, bundling it on first use."""
        key = (path, fragment)
        if key in self.by_target:
            return self.by_target[key]
        doc = self._doc(path)
        node = _follow(doc, fragment, path)
        title = node.get("title") if isinstance(node, dict) else None
        if not isinstance(title, str) or not title:
            raise SchemaError(path, fragment or "/", "a referenced or root schema needs a `title`")
        is_common = path.parent.name == COMMON_DIR and path.parent != self.folder
        name = self.prefix + title if is_common else title
        if name in self.defs and self.origin[name] != key:
            other = self.origin[name]
            raise SchemaError(
                path, fragment or "/", f"title {name!r} is also used by {other[0]}#{other[1]}"
            )
        self.by_target[key] = name
        self.origin[name] = key
        self.defs[name] = None  # reserve before recursing (cycles)
        rewritten = self._rewrite(node, path, fragment, name)
        if isinstance(rewritten, dict):
            rewritten["title"] = name
        self.defs[name] = rewritten
        return name

    def _rewrite(self, node: Any, path: Path, where: str, name: str) -> Any:
        """Copy `node` with every `$ref` pointing into the bundle's `$defs`."""
        if isinstance(node, list):
            return [self._rewrite(item, path, f"{where}/{i}", name) for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("$defs", "$schema", "$id", "$comment"):
                continue
            if key == "$ref":
                out[key] = "#/$defs/" + self._resolve_ref(value, path, f"{where}/$ref")
            else:
                out[key] = self._rewrite(value, path, f"{where}/{key}", name)
        return out

    def _resolve_ref(self, ref: Any, path: Path, where: str) -> str:
        if not isinstance(ref, str) or not ref:
            raise SchemaError(path, where, "`$ref` must be a non-empty string")
        file_part, _, fragment = ref.partition("#")
        target = (path.parent / file_part).resolve() if file_part else path
        if not target.is_file():
            raise SchemaError(path, where, f"`$ref` {ref!r} points to a missing file")
        if fragment and not fragment.startswith("/$defs/"):
            raise SchemaError(
                path, where, f"`$ref` {ref!r}: only `#/$defs/<name>` fragments are supported"
            )
        return self._target(target, fragment)


def _follow(doc: Any, fragment: str, path: Path) -> Any:
    node = doc
    for part in [p for p in fragment.split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(path, fragment, "`$ref` target does not exist")
        node = node[part]
    return node


def _validate_schema(node: Any, path: Path, where: tuple[object, ...]) -> None:
    """Fail fast, with a pointer, on the mistakes that would otherwise surface much later."""
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        raise SchemaError(path, pointer(*where), "a schema must be a JSON object")
    for key in node:
        if key not in _SCHEMA_KEYWORDS and not key.startswith("x-"):
            raise SchemaError(path, pointer(*where, key), f"unknown schema keyword {key!r}")
    types = node.get("type")
    for t in types if isinstance(types, list) else [types] if types is not None else []:
        if t not in _KNOWN_TYPES:
            raise SchemaError(path, pointer(*where, "type"), f"unknown type {t!r}")
    if "enum" in node and (not isinstance(node["enum"], list) or not node["enum"]):
        raise SchemaError(path, pointer(*where, "enum"), "`enum` must be a non-empty list")
    props = node.get("properties", {})
    if not isinstance(props, dict):
        raise SchemaError(path, pointer(*where, "properties"), "`properties` must be an object")
    for prop, sub in props.items():
        if prop in _DICT_NAMES:
            raise SchemaError(
                path,
                pointer(*where, "properties", prop),
                f"property {prop!r} would hide the dict method of that name (generated types"
                " are dicts)",
            )
        if isinstance(sub, dict) and not sub.get("description") and "$ref" not in sub:
            raise SchemaError(
                path, pointer(*where, "properties", prop), "property has no `description`"
            )
        _validate_schema(sub, path, (*where, "properties", prop))
    required = node.get("required", [])
    if not isinstance(required, list) or any(r not in props for r in required):
        raise SchemaError(
            path, pointer(*where, "required"), "`required` names a property that does not exist"
        )
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            _validate_schema(node[key], path, (*where, key))
    for key in ("oneOf", "anyOf", "allOf"):
        for i, sub in enumerate(node.get(key, [])):
            _validate_schema(sub, path, (*where, key, i))
    for name, sub in node.get("$defs", {}).items():
        if isinstance(sub, dict) and not sub.get("title"):
            raise SchemaError(
                path, pointer(*where, "$defs", name), "a `$defs` entry needs a `title`"
            )
        _validate_schema(sub, path, (*where, "$defs", name))
    if node.get("type") == "object" and where == () and not node.get("title"):
        raise SchemaError(path, "/", "the root schema needs a `title`")


def iter_tasks(schemas_dir: Path) -> Iterator[RawTask]:
    for folder in task_folders(schemas_dir):
        yield load_task(folder)
