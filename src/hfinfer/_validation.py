"""Argument checks generated from the schemas, run before any request is sent."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from typing import Any

from hfinfer._model import InferenceType
from hfinfer._operation import Arg, Check, Operation
from hfinfer.errors import InferenceInputError

_NAMES = {
    "str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean",
    "list": "a list", "dict": "a dict", "model": "a typed object",
}  # fmt: skip


def _is(value: Any, name: str) -> bool:
    if name == "str":
        return isinstance(value, str)
    if name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "bool":
        return isinstance(value, bool)
    if name == "list":
        return isinstance(value, (list, tuple))
    if name in ("dict", "model"):
        return isinstance(value, (Mapping, InferenceType))
    return True


def _expected(types: tuple[str, ...]) -> str:
    return " or ".join(_NAMES.get(t, t) for t in types if t != "model")


def _got(value: Any) -> str:
    text = repr(value)
    return f"{text[:60]}…" if len(text) > 60 else text


def check_value(method: str, name: str, check: Check, value: Any) -> None:
    """Raise `InferenceInputError` when an argument's value breaks its schema."""
    message = problem(check, value)
    if message is not None:
        raise InferenceInputError(method, name, message)


def problem(check: Check, value: Any) -> str | None:
    """What is wrong with `value` under `check` ("must be …"), or None. For arguments and
    for responses whose schema is a plain JSON value (no generated type)."""
    if check.types and not any(_is(value, t) for t in check.types):
        return f"must be {_expected(check.types)}, got {type(value).__name__} {_got(value)}"
    if (
        check.enum is not None
        and isinstance(value, (str, int, float, bool))
        and value not in check.enum
    ):
        allowed = ", ".join(repr(v) for v in check.enum)
        return f"must be one of {allowed}, got {_got(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"  # JSON has no NaN or infinity
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if check.minimum is not None and value < check.minimum:
            return f"must be >= {check.minimum}, got {value}"
        if check.maximum is not None and value > check.maximum:
            return f"must be <= {check.maximum}, got {value}"
        if check.exclusive_minimum is not None and value <= check.exclusive_minimum:
            return f"must be > {check.exclusive_minimum}, got {value}"
        if check.exclusive_maximum is not None and value >= check.exclusive_maximum:
            return f"must be < {check.exclusive_maximum}, got {value}"
    if isinstance(value, (list, tuple)):
        if check.min_items is not None and len(value) < check.min_items:
            return f"must have at least {check.min_items} item(s), got {len(value)}"
        for i, item in enumerate(value):
            if check.item_types and not any(_is(item, t) for t in check.item_types):
                got = f"{type(item).__name__} {_got(item)}"
                return f"[{i}] must be {_expected(check.item_types)}, got {got}"
            if isinstance(item, float) and not math.isfinite(item):
                return f"[{i}] must be a finite number, got {item}"
            if check.item_enum is not None and item not in check.item_enum:
                allowed = ", ".join(repr(v) for v in check.item_enum)
                return f"[{i}] must be one of {allowed}, got {_got(item)}"
    if isinstance(value, str) and check.min_length is not None and len(value) < check.min_length:
        if check.min_length == 1:
            return "must not be empty"
        return f"must have at least {check.min_length} characters"
    return None


def _check_binary(method: str, arg: Arg, value: Any) -> None:
    if isinstance(value, (str, bytes, bytearray, memoryview, os.PathLike)) or hasattr(
        value, "read"
    ):
        if isinstance(value, (str, bytes, bytearray, memoryview)) and len(value) == 0:
            raise InferenceInputError(method, arg.name, "must not be empty")
        return
    if arg.kind == "image" and type(value).__module__.startswith("PIL."):
        return
    expected = "bytes, a path, a URL, a file object" + (
        " or a PIL image" if arg.kind == "image" else ""
    )
    raise InferenceInputError(method, arg.name, f"must be {expected}, got {type(value).__name__}")


def validate(op: Operation, values: tuple[Any, ...]) -> None:
    """Raise `InferenceInputError` naming the first invalid argument; warn on deprecated ones."""
    for arg, value in zip(op.args, values, strict=True):
        if value is None:
            if arg.check.required:
                raise InferenceInputError(op.method, arg.name, "is required, got None")
            continue
        if arg.kind is not None:
            _check_binary(op.method, arg, value)
        elif arg.whole or arg.spread:
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise InferenceInputError(
                    op.method, arg.name, f"must be a dict with str keys, got {type(value).__name__}"
                )
        else:
            check_value(op.method, arg.name, arg.check, value)
        for other in arg.requires:
            if op.value(values, other) is None:
                raise InferenceInputError(
                    op.method, arg.name, f"must be given together with `{other}`"
                )
        if arg.deprecated:
            warnings.warn(
                f"{op.method}(): `{arg.name}` is deprecated. {arg.deprecated}",
                FutureWarning,
                stacklevel=4,
            )


def without_ineffective(op: Operation, values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Send as false, with a warning, a flag that only works with another one that is false."""
    out = values
    for i in op.only_with:
        arg = op.args[i]
        if not values[i] or op.value(values, arg.only_with):
            continue
        warnings.warn(
            f"{op.method}(): `{arg.name}` has an effect only with `{arg.only_with}=True`;"
            " it is sent as false.",
            UserWarning,
            stacklevel=4,
        )
        out = (*out[:i], False, *out[i + 1 :])
    return out
