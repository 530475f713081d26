"""The one error the generator raises for a bad schema or binding."""

from __future__ import annotations

from pathlib import Path


class SchemaError(Exception):
    """A schema or binding is invalid; names the file and the JSON pointer of the problem."""

    def __init__(self, path: Path | str, pointer: str, message: str) -> None:
        self.path = Path(path)
        self.pointer = pointer or "/"
        self.message = message
        super().__init__(f"{self.path}: at {self.pointer}: {message}")


def pointer(*parts: object) -> str:
    """Build a JSON pointer (RFC 6901) from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped) if parts else "/"
