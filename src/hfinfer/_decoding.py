"""Responses → return values: JSON into generated types, arrays, images and bytes.

A decoder is compiled once per generated class (from its type hints) and cached, so decoding a
response or a stream chunk does no reflection: it walks a precomputed plan.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import importlib
import io
import json
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from hfinfer import _media
from hfinfer._model import InferenceType, is_attribute
from hfinfer._operation import Decode, Operation
from hfinfer._validation import problem

Converter = Callable[[Any], Any]


class DecodeFailure(ValueError):
    """The body does not have the shape the task promises (turned into InferenceDecodeError)."""


def _identity(value: Any) -> Any:
    return value


def _b64_bytes(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return base64.b64decode(value)
        except (binascii.Error, ValueError) as exc:
            raise DecodeFailure(f"invalid base64 content: {exc}") from None
    return value


def _b64_image(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return open_image(_b64_bytes(value))


def open_image(content: bytes) -> Any:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            "This task returns images: install Pillow (`pip install hfinfer[pillow]`)."
        ) from None
    try:
        image = Image.open(io.BytesIO(content))
        image.load()
    except Exception as exc:
        raise DecodeFailure(f"the server did not return a readable image: {exc}") from None
    return image


def _converter(hint: Any) -> Converter:
    """A function turning a JSON value into `hint` (identity for plain JSON types)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        convs = [(_target_kind(a), _converter(a)) for a in options]
        convs = [(kind, conv) for kind, conv in convs if conv is not _identity]
        if not convs:
            return _identity
        return _union_converter(convs)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        inner = _converter(item)
        if inner is _identity:
            return _identity
        return lambda v: [inner(x) for x in v] if isinstance(v, list) else v
    if isinstance(hint, type):
        if issubclass(hint, InferenceType) and dataclasses.is_dataclass(hint):
            return decoder_for(hint)
        if hint is bytes:
            return _b64_bytes
        if hint is _media.Image:
            return _b64_image
    return _identity


def _target_kind(hint: Any) -> type | None:
    origin = typing.get_origin(hint)
    if origin is list:
        return list
    if isinstance(hint, type) and issubclass(hint, InferenceType):
        return dict
    if hint in (bytes, _media.Image):
        return str
    return None


def _union_converter(convs: list[tuple[type | None, Converter]]) -> Converter:
    def convert(value: Any) -> Any:
        for kind, conv in convs:
            if kind is None or isinstance(value, kind):
                return conv(value)
        return value

    return convert


_DECODERS: dict[type | str, Converter] = {}


def _normalise(key: str) -> str:
    return key.replace("-", "_").replace(" ", "_").lower()


def decoder_for(ref: type | str) -> Converter:
    """The cached decoder of a generated dataclass, given as a class or as "module:Class"."""
    cached = _DECODERS.get(ref)
    if cached is not None:
        return cached
    if isinstance(ref, str):
        module_name, _, name = ref.partition(":")
        decoder = decoder_for(getattr(importlib.import_module(module_name), name))
        _DECODERS[ref] = decoder
        return decoder
    cls = ref

    def lazy(value: Any) -> Any:  # placeholder while compiling (recursive types)
        return _DECODERS[cls](value)

    _DECODERS[cls] = lazy
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls, globalns=vars(module))
    plan: list[tuple[str, Any, Converter]] = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        plan.append((f.name, default, _converter(hints.get(f.name, Any))))
    names = frozenset(name for name, _, _ in plan)
    new = dict.__new__
    fill = dict.update

    def decode(data: Any) -> Any:
        if data.__class__ is not dict:
            if isinstance(data, InferenceType):
                return data
            if not isinstance(data, dict):
                raise DecodeFailure(
                    f"expected a JSON object for {cls.__name__}, got {type(data).__name__}"
                )
        # No __init__: the attributes are set straight in the instance dict, then copied once
        # (C-level) into the dict's items (see `InferenceType`).
        obj: Any = new(cls)
        state = obj.__dict__
        for name, default, conv in plan:
            value = data.get(name, default)
            state[name] = default if value is None else conv(value)
        hidden = None
        for key, value in data.items():
            if key not in names:
                norm = _normalise(key)
                if norm in names:
                    conv = next(c for n, _, c in plan if n == norm)
                    state[norm] = conv(value) if value is not None else None
                else:
                    state[norm] = value
                    if not is_attribute(norm):
                        hidden = [*(hidden or ()), norm]
        fill(obj, state)
        if hidden:  # an extra field named like a dict method (`items`…) stays an item only
            for norm in hidden:
                del state[norm]
        return obj

    _DECODERS[cls] = decode
    return decode


def load_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:  # invalid JSON or UTF-8, huge ints, deep nesting
        snippet = content[:200].decode("utf-8", "replace")
        raise DecodeFailure(f"the server did not return valid JSON ({exc}): {snippet!r}") from None


def select(value: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else getattr(value, key, None)
    return value


def _shape(decode: Decode, data: Any) -> Any:
    shape = decode.shape
    if decode.zip and isinstance(data, dict):
        columns = [(data.get(src) or [], dst) for src, dst in decode.zip]
        for column, dst in columns:
            if not isinstance(column, list):
                raise DecodeFailure(f"expected a list for {dst!r}, got {type(column).__name__}")
        data = [
            dict(zip([dst for _, dst in columns], row, strict=False))
            for row in zip(*(c for c, _ in columns), strict=False)
        ]
    conv = decoder_for(decode.type) if decode.type is not None else _identity
    if shape == "instance":
        return conv(data)
    if shape == "list" or shape == "nested-first":
        if (
            shape == "nested-first"
            and isinstance(data, list)
            and data
            and isinstance(data[0], list)
        ):
            data = data[0]
        if not isinstance(data, list):
            raise DecodeFailure(f"expected a JSON list, got {type(data).__name__}")
        return [conv(item) for item in data]
    if shape == "first":
        if not isinstance(data, list) or not data:
            raise DecodeFailure(f"expected a non-empty JSON list, got {_describe(data)}")
        return conv(data[0])
    if shape == "first-or-instance":
        if isinstance(data, list):
            if not data:
                raise DecodeFailure("expected a non-empty JSON list, got an empty one")
            data = data[0]
        return conv(data)
    if shape == "one-or-many":
        return [conv(item) for item in data] if isinstance(data, list) else conv(data)
    raise DecodeFailure(f"unknown response shape {shape!r}")  # pragma: no cover


def _describe(data: Any) -> str:
    return "an empty list" if data == [] else type(data).__name__


def decode_response(op: Operation, content: bytes, values: tuple[Any, ...]) -> Any:
    """The method's return value from a complete response body."""
    decode = op.response
    if decode.kind == "bytes":
        return content
    if decode.kind == "image":
        return open_image(content)
    return decode_data(op, load_json(content), values)


def decode_data(op: Operation, data: Any, values: tuple[Any, ...]) -> Any:
    """The method's return value from a decoded JSON answer (JSON result kinds)."""
    decode = op.response
    if decode.kind == "array":
        try:
            import numpy as np
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                "This task returns arrays: install numpy (`pip install hfinfer[numpy]`)."
            ) from None
        try:
            with np.errstate(over="raise"):
                return np.asarray(data, dtype=np.float32)
        except (TypeError, ValueError, OverflowError, FloatingPointError) as exc:
            raise DecodeFailure(f"expected a JSON array of float32 numbers: {exc}") from None
    if decode.check is not None:
        wrong = problem(decode.check, data)
        if wrong is not None:
            raise DecodeFailure(f"the response {wrong}")
    result = _shape(decode, data)
    if decode.field and not op.value(values, decode.unless):
        return select(result, decode.field)
    return result
