"""Request bodies: inputs of every kind (text, JSON, bytes, paths, URLs, files, PIL images).

Sans-I/O: URLs to download are reported back to the caller, which fetches them with its own
sync or async transport and hands the bytes in.
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeAlias, Union

from hfinfer._model import InferenceType
from hfinfer._operation import Arg, Operation
from hfinfer.errors import InferenceInputError

if TYPE_CHECKING:
    from PIL.Image import Image

BinaryInput: TypeAlias = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]
"""Binary content: raw bytes, a local path (str or Path), an http(s) URL, or a binary file object."""

if TYPE_CHECKING:
    ImageInput: TypeAlias = BinaryInput | Image
else:
    ImageInput = BinaryInput
"""An image: anything `BinaryInput` accepts, or a PIL image."""


class Body(NamedTuple):
    """What to send: a JSON value, or raw bytes, or nothing."""

    json: Any = None
    content: bytes | None = None
    content_type: str | None = None


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def urls_to_fetch(op: Operation, values: tuple[Any, ...]) -> list[str]:
    """Binary arguments given as URLs: the caller downloads them before `build_body`."""
    return [v for a, v in zip(op.args, values, strict=True) if a.kind and is_url(v)]


def read_binary(method: str, name: str, value: Any, fetched: Mapping[str, bytes]) -> bytes:
    """The bytes of a binary input (paths read, file objects read, PIL images saved as PNG)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str) and is_url(value):
        return fetched[value]
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise InferenceInputError(
                method, name, f"is not an existing file nor an http(s) URL: {str(value)[:200]!r}"
            ) from None
        except OSError as exc:
            raise InferenceInputError(method, name, f"cannot be read: {exc.strerror}") from None
    if hasattr(value, "read"):
        data = value.read()
        if not isinstance(data, bytes):
            raise InferenceInputError(method, name, "must be opened in binary mode ('rb')")
        return data
    if type(value).__module__.startswith("PIL."):
        buffer = io.BytesIO()
        value.save(buffer, format=getattr(value, "format", None) or "PNG")
        return buffer.getvalue()
    raise InferenceInputError(
        method, name, f"unsupported binary input of type {type(value).__name__}"
    )


def jsonable(value: Any) -> Any:
    """Typed objects → dicts without None fields; tuples → lists; everything else unchanged."""
    if isinstance(value, InferenceType):
        return value.to_dict(exclude_none=True)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def raw_body(json_value: Any, data: Any, fetched: Mapping[str, bytes]) -> Body:
    """The body of `post()`: `data` as raw bytes (it wins over `json`), else `json` as JSON."""
    if data is not None:
        if json_value is not None:
            warnings.warn(
                "Ignoring `json` as `data` is passed as binary.", UserWarning, stacklevel=3
            )
        return Body(content=read_binary("post", "data", data, fetched))
    if json_value is not None:
        return Body(json=jsonable(json_value))
    return Body()


def _place(body: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = body
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node.setdefault(path[-1], value)  # the first argument with a value wins (deprecated aliases)


def build_body(
    op: Operation,
    values: tuple[Any, ...],
    fetched: Mapping[str, bytes],
    *,
    model_name: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Body:
    """The request body for `op` called with `values` (aligned with `op.args`)."""
    binaries: dict[str, bytes] = {}
    others = False
    for arg, value in zip(op.args, values, strict=True):
        if arg.kind is not None:
            if value is not None:
                binaries[arg.name] = read_binary(op.method, arg.name, value, fetched)
        elif value is not None:
            others = True
    if op.body == "raw" or (op.body == "raw-or-json" and not others and not extra):
        return Body(content=next(iter(binaries.values()), b""))
    body: dict[str, Any] = {}
    # A `whole` argument with a value replaces everything else under its wire path.
    replaced = [a.wire for a, v in zip(op.args, values, strict=True) if a.whole and v is not None]
    for arg, value in zip(op.args, values, strict=True):
        if replaced and not arg.whole and any(arg.wire[: len(w)] == w for w in replaced):
            continue
        if value is None:
            if arg.absent is None:
                continue
            value = arg.absent
        value = _encode(arg, value, binaries.get(arg.name))
        if value is None:
            continue
        _place(body, arg.wire, value)
    if model_name is not None and op.model_in_body:
        _place(body, op.model_in_body, model_name)
    if extra:
        cleaned = {k: jsonable(v) for k, v in extra.items() if v is not None}
        if cleaned and op.extra_kwargs is not None:
            for key, value in cleaned.items():
                _place(body, (*op.extra_kwargs, key), value)
    return Body(json=body)


def _encode(arg: Arg, value: Any, binary: bytes | None) -> Any:
    if arg.kind is not None:
        return base64.b64encode(binary or b"").decode("ascii")
    if arg.whole:
        cleaned = {k: jsonable(v) for k, v in value.items() if v is not None}
        return cleaned or None
    if arg.encode == "comma-join":
        return ",".join(str(v) for v in value)
    if arg.encode == "list" and not isinstance(value, (list, tuple)):
        return [jsonable(value)]  # one value where the server wants a list: `stop="x"`
    return jsonable(value)
