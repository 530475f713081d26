"""Per-task command-line options, generated from the operations table.

Each task method becomes a subcommand; each of its arguments an option typed by the argument's
schema check (int, float, bool as --x/--no-x, a choice for an enum, strings, several strings for
a list of strings, JSON text for objects and other lists), with the help text the generated
client's docstring carries from the schema's descriptions. Nothing here names a task.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
from collections.abc import Sequence
from typing import Any

from hfinfer._operation import Arg, Operation

_ARG_LINE = re.compile(r"^(\w+) \(`.*`(?:, optional)?\):$")


def descriptions(op: Operation) -> tuple[str, dict[str, str]]:
    """(the method's summary, {argument: description}) from the generated client's docstring."""
    from hfinfer import AsyncInferenceClient

    doc = inspect.getdoc(getattr(AsyncInferenceClient, op.method, None)) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    found: dict[str, str] = {}
    current: str | None = None
    in_args = False
    for raw in doc.splitlines():
        line = raw.strip()
        if raw.startswith("Args:"):
            in_args = True
            continue
        if in_args and raw and not raw.startswith(" "):
            break
        if not in_args or not line:
            continue
        match = (
            _ARG_LINE.match(line)
            if raw.startswith("    ") and not raw.startswith("     ")
            else None
        )
        if match:
            current = match.group(1)
            found[current] = ""
        elif current is not None:
            found[current] = (found[current] + " " + line).strip()
    return summary, found


def option_name(arg: Arg) -> str:
    return "--" + arg.name.replace("_", "-")


def cli_args(op: Operation) -> list[Arg]:
    """The arguments the command line offers: all but the stream switch (calls are not streamed)."""
    streamed = op.stream.when if op.stream else None
    return [a for a in op.args if a.name != streamed]


def parse_value(text: str, arg: Arg) -> Any:
    """A command-line string as the argument's value, following its schema's types."""
    types = arg.check.types
    if arg.kind is not None:  # binary input: a path or URL
        return text
    if "bool" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if "int" in types:
        try:
            return int(text)
        except ValueError:
            pass
    if "float" in types:
        try:
            return float(text)
        except ValueError:
            pass
    structured = arg.whole or not types or bool(set(types) & {"list", "dict", "model"})
    if structured and ("str" not in types or text[:1] in "[{"):
        try:
            return json.loads(text)
        except ValueError:
            if "str" not in types:
                raise argparse.ArgumentTypeError(f"not valid JSON: {text!r:.60}") from None
    if "str" in types:
        return text
    raise argparse.ArgumentTypeError(f"expected {' or '.join(types)}, got {text!r:.60}")


def _typed(arg: Arg) -> Any:
    def convert(text: str) -> Any:
        return parse_value(text, arg)

    convert.__name__ = "/".join(arg.check.types) or "JSON"
    return convert


def add_arguments(
    parser: argparse.ArgumentParser, op: Operation, help_for: dict[str, str], positional: bool
) -> list[Arg]:
    """Add `op`'s arguments to `parser`; with `positional`, required ones become positionals.

    Returns the arguments taken as positionals, in order.
    """
    group = parser.add_argument_group(f"{op.method} arguments (from the schema)")
    positionals: list[Arg] = []
    for arg in cli_args(op):
        text = help_for.get(arg.name, "")
        if arg.deprecated:
            text = f"{text} (deprecated: {arg.deprecated})".strip()
        check = arg.check
        if positional and check.required:
            positionals.append(arg)
            group.add_argument(arg.name, type=_typed(arg), help=text, metavar=arg.name.upper())
            continue
        kwargs: dict[str, Any] = {"dest": f"arg_{arg.name}", "default": None, "help": text}
        if check.types == ("bool",):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif check.enum is not None and set(check.types) <= {"str"}:
            kwargs["choices"] = [str(v) for v in check.enum]
        elif check.types == ("list",) and check.item_types == ("str",):
            kwargs["nargs"] = "+"
            kwargs["metavar"] = "TEXT"
            if check.item_enum is not None:
                kwargs["choices"] = [str(v) for v in check.item_enum]
        else:
            kwargs["type"] = _typed(arg)
            kwargs["metavar"] = _metavar(arg)
        group.add_argument(option_name(arg), **kwargs)
    return positionals


def _metavar(arg: Arg) -> str:
    types = arg.check.types
    if arg.kind is not None:
        return "PATH_OR_URL"
    if types in (("int",),):
        return "INT"
    if types in (("float",),):
        return "NUMBER"
    if types == ("str",):
        return "TEXT"
    return "JSON" if "str" not in types else "TEXT_OR_JSON"


def collected(namespace: argparse.Namespace, op: Operation) -> dict[str, Any]:
    """The per-task options given on the command line (unset ones left out)."""
    values: dict[str, Any] = {}
    for arg in cli_args(op):
        value = getattr(namespace, f"arg_{arg.name}", None)
        if value is not None:
            values[arg.name] = value
    return values


def positional_values(namespace: argparse.Namespace, args: Sequence[Arg]) -> list[Any]:
    return [getattr(namespace, a.name) for a in args]
