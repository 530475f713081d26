"""Typed reads of a provider file: each failure a `SchemaError` naming the file and the JSON
pointer of the value."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any

from codegen.errors import SchemaError, pointer

Where = tuple[object, ...]


class Checker:
    """Typed reads of one provider file, each failure naming the file and the JSON pointer."""

    def __init__(self, path: FilePath) -> None:
        self.path = path

    def fail(self, where: Where, message: str) -> SchemaError:
        return SchemaError(self.path, pointer(*where), message)

    def keys(self, where: Where, data: Any, allowed: set[str] | None = None) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(where, "expected a JSON object")
        for key in data:
            if allowed is not None and key not in allowed:
                raise self.fail((*where, key), f"unknown key {key!r} (known: {sorted(allowed)})")
        return data

    def string(self, where: Where, value: Any, *, url: bool = False) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "expected a non-empty string")
        if url and not value.startswith("https://"):
            raise self.fail(where, "expected an https:// URL")
        return value

    def boolean(self, where: Where, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, "expected true or false")
        return value

    def number(self, where: Where, value: Any, *, integer: bool = False) -> float:
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            raise self.fail(where, f"expected a {'whole ' if integer else ''}number >= 0")
        return value

    def strings(self, where: Where, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(where, "expected a list of strings")
        return tuple(self.string((*where, i), v) for i, v in enumerate(value))

    def dotted(self, where: Where, value: Any) -> tuple[str, ...]:
        return tuple(self.string(where, value).split("."))

    def choice(self, where: Where, value: Any, allowed: tuple[Any, ...]) -> Any:
        if value not in allowed:
            raise self.fail(where, f"expected one of {list(allowed)}, got {value!r}")
        return value
