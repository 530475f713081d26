"""The runtime form of a binding: what the generated operations table is made of.

Plain named tuples and one slotted class: building the table at import time stays cheap.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Check(NamedTuple):
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


class Arg(NamedTuple):
    """One method argument (the model aside) and where its value goes on the wire."""

    name: str
    wire: tuple[str, ...]
    kind: str | None = None
    encode: str | None = None
    absent: Any = None
    whole: bool = False
    spread: bool = False
    """A dict merged key by key into the object at `wire[:-1]`; its keys win."""
    deprecated: str | None = None
    requires: tuple[str, ...] = ()
    only_with: str | None = None
    """A boolean argument that has an effect only when this other one is true."""
    check: Check = Check()


class Decode(NamedTuple):
    """How a non-streamed response becomes the method's return value."""

    kind: str
    shape: str = "instance"
    type: str | None = None
    """The generated class, as "module:Class" (imported on first use)."""
    zip: tuple[tuple[str, str], ...] = ()
    field: tuple[str, ...] = ()
    unless: str | None = None
    check: Check | None = None
    """For a plain JSON result (no generated type): what the decoded value must be."""


class StreamDecode(NamedTuple):
    """How server-sent events become stream items, when the argument `when` is true."""

    when: str
    type: str
    field: tuple[str, ...] = ()
    unless: str | None = None


class Operation:
    """A task bound to a method: route, body shape, arguments and decoding."""

    __slots__ = (
        "accept", "args", "body", "errors", "extra_kwargs", "index", "method", "model_in_body",
        "only_with", "response", "route", "stream", "task",
    )  # fmt: skip

    def __init__(
        self,
        *,
        task: str,
        method: str,
        route: str,
        body: str,
        args: tuple[Arg, ...],
        response: Decode,
        stream: StreamDecode | None = None,
        accept: str | None = None,
        model_in_body: tuple[str, ...] = (),
        extra_kwargs: tuple[str, ...] | None = None,
        errors: str | None = None,
    ) -> None:
        self.task = task
        self.method = method
        self.route = route
        self.body = body
        self.args = args
        self.response = response
        self.stream = stream
        self.accept = accept
        self.model_in_body = model_in_body
        self.extra_kwargs = extra_kwargs
        self.errors = errors
        self.index = {a.name: i for i, a in enumerate(args)}
        """Argument name → position in the values a method passes."""
        self.only_with = tuple(i for i, a in enumerate(args) if a.only_with is not None)
        """Positions of the arguments that work only with another one (see `Arg.only_with`)."""

    def __repr__(self) -> str:
        return f"<Operation {self.method} ({self.task})>"

    def value(self, values: tuple[Any, ...], name: str | None) -> Any:
        """The value passed for argument `name` (None when there is no such argument)."""
        if name is None or name not in self.index:
            return None
        return values[self.index[name]]
