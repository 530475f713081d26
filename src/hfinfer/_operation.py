"""The runtime form of a binding: what the generated operations table is made of."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """What is verified about an argument before any request is sent (from its schema)."""

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


@dataclasses.dataclass(frozen=True, slots=True)
class Arg:
    """One method argument (the model aside) and where its value goes on the wire."""

    name: str
    wire: tuple[str, ...]
    kind: str | None = None
    encode: str | None = None
    absent: Any = None
    whole: bool = False
    deprecated: str | None = None
    requires: tuple[str, ...] = ()
    check: Check = Check()


@dataclasses.dataclass(frozen=True, slots=True)
class Decode:
    """How a non-streamed response becomes the method's return value."""

    kind: str
    shape: str = "instance"
    type: str | None = None
    """The generated class, as "module:Class" (imported on first use)."""
    zip: tuple[tuple[str, str], ...] = ()
    field: tuple[str, ...] = ()
    unless: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class StreamDecode:
    """How server-sent events become stream items, when the argument `when` is true."""

    when: str
    type: str
    field: tuple[str, ...] = ()
    unless: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Operation:
    """A task bound to a method: route, body shape, arguments and decoding."""

    task: str
    method: str
    route: str
    body: str
    args: tuple[Arg, ...]
    response: Decode
    stream: StreamDecode | None = None
    accept: str | None = None
    model_in_body: tuple[str, ...] = ()
    extra_kwargs: tuple[str, ...] | None = None
    errors: str | None = None
    index: dict[str, int] = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {a.name: i for i, a in enumerate(self.args)})

    def value(self, values: tuple[Any, ...], name: str | None) -> Any:
        """The value passed for argument `name` (None when there is no such argument)."""
        if name is None or name not in self.index:
            return None
        return values[self.index[name]]
