"""The intermediate model: tasks, arguments, checks, return types and aliases as attrs classes.

It is what the templates lay out, fully computed: `binding.py` builds it from a task's bundled
schema, its binding and its rendered types (`schema_types.py`); the renderers only format it.
Nothing here knows any particular task.
"""

from __future__ import annotations

from typing import Any

import attrs

CALL_OPTION = "max_retries"
"""A keyword every generated method takes besides its task's arguments (a per-call option)."""


@attrs.frozen
class Check:
    """What the runtime verifies about an argument before any request is sent."""

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


@attrs.frozen
class Argument:
    """One parameter of a generated method, and where its value goes on the wire."""

    name: str
    annotation: str
    default: str | None
    """Python source of the default, or None when the argument is required."""
    description: str
    positional: bool = False
    is_model: bool = False
    wire: tuple[str, ...] = ()
    kind: str | None = None
    encode: str | None = None
    absent: Any = None
    whole: bool = False
    spread: bool = False
    """A dict merged key by key into the object at `wire[:-1]` (see binding `spread`)."""
    deprecated: str | None = None
    requires: tuple[str, ...] = ()
    only_with: str | None = None
    """A boolean argument that has an effect only when this other one is true."""
    check: Check = Check()
    field: tuple[str, str] | None = None
    """(class, field) of the generated input type the argument stands for; its annotation is
    derived from that field's (None for the model and for binary or `whole` arguments)."""


@attrs.frozen
class FieldSelect:
    path: tuple[str, ...]
    unless: str


@attrs.frozen
class Response:
    kind: str
    shape: str
    type_name: str | None
    annotation: str
    zip: tuple[tuple[str, str], ...] = ()
    field: FieldSelect | None = None
    field_annotation: str | None = None
    check: Check | None = None
    """For a plain JSON result (no generated type): what the decoded value must be."""


@attrs.frozen
class Stream:
    when: str
    type_name: str
    annotation: str
    field: FieldSelect | None = None
    field_annotation: str | None = None


@attrs.frozen
class Task:
    task: str
    module: str
    prefix: str
    method: str
    const: str
    summary: str
    description: str
    returns_doc: str
    route: str
    body: str
    accept: str | None
    model_in_body: tuple[str, ...]
    extra_kwargs: tuple[str, ...] | None
    errors: str | None
    arguments: tuple[Argument, ...]
    response: Response
    stream: Stream | None
    class_names: tuple[str, ...]
    sources: tuple[str, ...]
    alias: tuple[str, ...] = ()
    """Another dotted path on the client that is this method (`chat.completions.create`)."""

    @property
    def positional(self) -> tuple[Argument, ...]:
        return tuple(a for a in self.arguments if a.positional)

    @property
    def keyword(self) -> tuple[Argument, ...]:
        return tuple(a for a in self.arguments if not a.positional)
