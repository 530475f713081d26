"""The alias tree of a client: `"alias": "chat.completions.create"` bindings → namespace classes.

Each dotted alias becomes a chain of small classes, one per namespace (`client.chat` is a
`_Chat`, whose `completions` is a `_ChatCompletions`, whose `create` is the bound method
`client.chat_completion`), and a property on the client for each top-level name. The attribute
is assigned the bound generated method, so a type checker infers its exact (overloaded) type.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from codegen.model import Task


@attrs.frozen
class Member:
    """One attribute of a namespace: a nested namespace or a task method."""

    name: str
    namespace: str | None
    """The class of the nested namespace, or None for a method."""
    method: str | None
    """The generated method it is, or None for a namespace."""

    def value(self, client: str) -> str:
        """Python source of its value, given the client's variable name."""
        return f"{self.namespace}({client})" if self.namespace else f"{client}.{self.method}"


@attrs.frozen
class Namespace:
    class_name: str
    path: tuple[str, ...]
    members: tuple[Member, ...]
    aliases: tuple[tuple[str, str], ...]
    """(dotted alias below the client, method) of every alias under this namespace."""

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def doc(self) -> str:
        pairs = ", ".join(f"`{alias}` is `{method}`" for alias, method in self.aliases)
        return f"`client.{self.dotted}`: aliases of task methods ({pairs})."


def class_name(path: tuple[str, ...]) -> str:
    """`("chat", "completions")` → `_ChatCompletions`."""
    return "_" + "".join(w[:1].upper() + w[1:] for part in path for w in part.split("_"))


def namespaces(tasks: Sequence[Task]) -> tuple[Namespace, ...]:
    """Every namespace class, top-level ones first, each after its parent (stable order)."""
    paths: list[tuple[str, ...]] = []
    for task in tasks:
        for depth in range(1, len(task.alias)):
            if task.alias[:depth] not in paths:
                paths.append(task.alias[:depth])
    paths.sort(key=lambda p: (len(p), p))
    out: list[Namespace] = []
    names: dict[str, tuple[str, ...]] = {}
    for path in paths:
        name = class_name(path)
        if names.setdefault(name, path) != path:  # pragma: no cover - needs contrived aliases
            raise ValueError(f"aliases {path} and {names[name]} give the same class {name}")
        members: list[Member] = []
        for child in paths:
            if len(child) == len(path) + 1 and child[:-1] == path:
                members.append(Member(child[-1], class_name(child), None))
        for task in tasks:
            if task.alias[:-1] == path:
                members.append(Member(task.alias[-1], None, task.method))
        aliases = tuple(
            (".".join(t.alias), t.method) for t in tasks if t.alias[: len(path)] == path
        )
        out.append(Namespace(name, path, tuple(sorted(members, key=lambda m: m.name)), aliases))
    return tuple(out)
