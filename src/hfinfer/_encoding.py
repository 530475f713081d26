"""Request bodies: inputs of every kind (text, JSON, bytes, paths, URLs, files, PIL images).

Sans-I/O: URLs to download are reported back to the caller, which fetches them with its own
sync or async transport and hands the bytes in.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias, Union

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


class FilePart(NamedTuple):
    """A binary input kept as bytes, for a multipart file part."""

    filename: str
    content: bytes
    mime: str


class Binary(Protocol):
    """How a provider wants binary inputs (`hfinfer._providers.Binary`)."""

    @property
    def style(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def name(self) -> str: ...


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


def _place(
    body: dict[str, Any], path: tuple[str, ...], value: Any, *, overwrite: bool = False
) -> None:
    node = body
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    if overwrite:
        node[path[-1]] = value
    else:  # the first argument with a value wins (deprecated aliases)
        node.setdefault(path[-1], value)


def build_body(
    op: Operation,
    values: tuple[Any, ...],
    fetched: Mapping[str, bytes],
    *,
    model_name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    binary: Binary | None = None,
) -> Body:
    """The request body for `op` called with `values` (aligned with `op.args`).

    `binary` (a provider's form of binary inputs) makes the body JSON whatever the task's own
    body kind, with each binary input as that form says."""
    binaries: dict[str, Any] = {}
    others = False
    for arg, value in zip(op.args, values, strict=True):
        if arg.kind is not None:
            if value is not None:
                binaries[arg.name] = _binary(op.method, arg.name, value, fetched, binary)
        elif value is not None:
            others = True
    if binary is None and (
        op.body == "raw" or (op.body == "raw-or-json" and not others and not extra)
    ):
        return Body(content=next(iter(binaries.values()), b""))
    body: dict[str, Any] = {}
    spread: list[tuple[tuple[str, ...], Any]] = []
    # A `whole` argument with a value replaces everything else under its wire path.
    replaced = [a.wire for a, v in zip(op.args, values, strict=True) if a.whole and v is not None]
    for arg, value in zip(op.args, values, strict=True):
        if replaced and not arg.whole and any(arg.wire[: len(w)] == w for w in replaced):
            continue
        if value is None:
            if arg.absent is None:
                continue
            value = arg.absent
        if arg.spread:
            spread.append((arg.wire[:-1], value))
            continue
        value = _encode(arg, value, binaries.get(arg.name))
        if value is None:
            continue
        _place(body, arg.wire, value)
    for path, extra_values in spread:  # after the named arguments: their keys win
        for key, value in extra_values.items():
            if value is not None:
                _place(body, (*path, key), jsonable(value), overwrite=True)
    if model_name is not None and op.model_in_body:
        _place(body, op.model_in_body, model_name)
    if extra:
        cleaned = {k: jsonable(v) for k, v in extra.items() if v is not None}
        if cleaned and op.extra_kwargs is not None:
            for key, value in cleaned.items():
                _place(body, (*op.extra_kwargs, key), value)
    return Body(json=body)


def _binary(
    method: str, name: str, value: Any, fetched: Mapping[str, bytes], form: Binary | None
) -> Any:
    """A binary input as the body carries it: bytes, or a provider's form (data URL, file)."""
    style = "base64" if form is None else form.style
    if (
        style == "data-url"
        and isinstance(value, str)
        and (is_url(value) or value.startswith("data:"))
    ):
        return value  # a URL or data URL passes as it is: the provider fetches it
    content = read_binary(method, name, value, fetched)
    if form is None:
        return content
    mime = _mime_of(value) or form.mime
    if style == "data-url":
        return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"
    if style == "file":
        known = _mime_of(value)
        name = form.name if known is None else os.path.splitext(form.name)[0] + _extension(known)
        return FilePart(name, content, mime)
    return base64.b64encode(content).decode("ascii")


def _extension(mime: str) -> str:
    """A file name extension for a MIME type (`audio/wav` → `.wav`)."""
    known = mimetypes.guess_extension(mime)
    if known:
        return known
    subtype = mime.rpartition("/")[2]
    return "" if subtype == "octet-stream" else f".{subtype.removeprefix('x-')}"


def _mime_of(value: Any) -> str | None:
    """The MIME type of a binary input when its name or format tells it."""
    if isinstance(value, (str, os.PathLike)) and not is_url(value):
        return mimetypes.guess_type(os.fspath(value))[0]
    if type(value).__module__.startswith("PIL."):
        return f"image/{(getattr(value, 'format', None) or 'PNG').lower()}"
    name = getattr(value, "name", None)
    return mimetypes.guess_type(name)[0] if isinstance(name, str) else None


def _encode(arg: Arg, value: Any, binary: Any) -> Any:
    if arg.kind is not None:
        if not isinstance(binary, bytes):
            return binary  # already in the provider's form
        return base64.b64encode(binary).decode("ascii")
    if arg.whole:
        cleaned = {k: jsonable(v) for k, v in value.items() if v is not None}
        return cleaned or None
    if arg.encode == "comma-join":
        return ",".join(str(v) for v in value)
    if arg.encode == "list" and not isinstance(value, (list, tuple)):
        return [jsonable(value)]  # one value where the server wants a list: `stop="x"`
    return jsonable(value)
