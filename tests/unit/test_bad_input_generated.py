"""Bad input, derived from the operations table: every task method rejects it before sending.

Nothing here is written per method. For every `Operation` in `hfinfer._generated.operations`
and every `Arg` whose `Check` (or binary `kind`, or `whole` dict) constrains its value, the
cases below are computed from the table:

* wrong-type    a value matching none of `check.types` (binary inputs: not bytes/path/file)
* enum          a value of the right type outside `check.enum`
* minimum / maximum / exclusive_minimum / exclusive_maximum
                a value just outside the bound (integers: one step; numbers: the next float
                and half a unit out; exclusive bounds: the bound itself)
* min_length    an empty (or too short) string
* min_items     an empty (or too short) list
* item-type / item-enum
                a list holding one item of the wrong type / outside `check.item_enum`
* empty-binary  empty bytes, bytearray, memoryview or string for a binary input
* required      None for a required argument
* requires      a value given without the argument it must come with (`Arg.requires`)

Each case is called on `InferenceClient` and `AsyncInferenceClient` with otherwise-valid
arguments (also derived from the checks) against an unroutable model URL inside
`respx.mock(assert_all_mocked=True)` with no routes: the call must raise `InferenceInputError`
naming the argument, say what was expected, and send nothing.

Positive controls keep the derivation honest: the derived valid values pass validation and reach
the transport, and values exactly on each bound and every enum value are accepted.

Constraints that cannot be turned into a bad value (a bound on a non-numeric argument, an enum
on a non-scalar, an argument with no type at all...) are skipped. The skip list is computed
(`SKIPPED`, with a reason per entry) and checked by `test_skips_are_justified`, never maintained
by hand.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import respx
from respx.models import AllMockedAssertionError

import hfinfer._generated.operations as operations
from hfinfer import AsyncInferenceClient, InferenceClient
from hfinfer._operation import Arg, Check, Operation
from hfinfer.errors import InferenceInputError

URL = "http://127.0.0.1:9/x"  # nothing listens there; respx refuses the request anyway
BINARY = b"\x89PNG\r\n\x1a\nnot really an image"

OPERATIONS: tuple[Operation, ...] = tuple(
    op
    for op in (getattr(operations, name) for name in operations.__all__)
    if isinstance(op, Operation)
)

# -- the schema semantics, restated: what a value must be for a check to accept it -------------

TYPE_WORDS = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "list": "list",
    "dict": "dict",
    "model": "dict",  # a typed-object argument also takes a plain dict
}


BOUND_SIGNS = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusive_minimum": ">",
    "exclusive_maximum": "<",
}


def matches(value: Any, name: str) -> bool:
    """JSON-schema typing: a boolean is not a number, an integer is a number, tuples are lists."""
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
        return isinstance(value, Mapping)
    raise AssertionError(f"type name {name!r} in the operations table is unknown to this test")


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def arg_types(arg: Arg) -> tuple[str, ...]:
    return ("dict",) if arg.whole or arg.spread else arg.check.types


def in_bounds(check: Check, value: float) -> bool:
    """Stated positively, so NaN (which compares false with everything) is in no range."""
    return (
        (check.minimum is None or value >= check.minimum)
        and (check.maximum is None or value <= check.maximum)
        and (check.exclusive_minimum is None or value > check.exclusive_minimum)
        and (check.exclusive_maximum is None or value < check.exclusive_maximum)
    )


def has_bounds(check: Check) -> bool:
    return any(getattr(check, kind) is not None for kind in BOUND_SIGNS)


def scalar_ok(types: tuple[str, ...], enum: tuple[Any, ...] | None, value: Any) -> bool:
    if types and not any(matches(value, t) for t in types):
        return False
    return not (enum is not None and isinstance(value, (str, int, float)) and value not in enum)


def accepts(arg: Arg, value: Any) -> bool:
    """Whether the schema allows `value` for `arg` on its own (`requires` aside)."""
    check = arg.check
    if value is None:
        return not check.required
    if arg.kind is not None:
        if isinstance(value, (str, bytes, bytearray, memoryview)):
            return len(value) > 0
        return hasattr(value, "read")
    if not scalar_ok(arg_types(arg), check.enum, value):
        return False
    if is_number(value) and not in_bounds(check, value):
        return False
    if isinstance(value, (list, tuple)):
        if check.min_items is not None and len(value) < check.min_items:
            return False
        if not all(scalar_ok(check.item_types, check.item_enum, item) for item in value):
            return False
    return not (
        isinstance(value, str) and check.min_length is not None and len(value) < check.min_length
    )


def is_numeric(types: tuple[str, ...]) -> bool:
    return not types or "int" in types or "float" in types


def integral(types: tuple[str, ...]) -> bool:
    """Only integers are allowed (so bad values step by one, not by a fraction)."""
    return "int" in types and "float" not in types


# -- valid values -------------------------------------------------------------------------------

SAMPLES: dict[str, Any] = {
    "str": "hello",
    "int": 1,
    "float": 0.5,
    "bool": True,
    "list": [0.0, 0.0, 1.0, 1.0],
    "dict": {"role": "user", "content": "hello"},
    "model": {"role": "user", "content": "hello"},
}


def valid_item(check: Check, i: int) -> Any:
    if check.item_enum:
        return check.item_enum[i % len(check.item_enum)]
    for t in check.item_types:
        return f"item{i}" if t == "str" else SAMPLES[t]
    return f"item{i}"


def number_candidates(check: Check, whole: bool) -> Iterator[float]:
    bounds = [
        b
        for b in (check.minimum, check.maximum, check.exclusive_minimum, check.exclusive_maximum)
        if b is not None
    ]
    yield from (1, 0, 0.5, 2)
    for b in bounds:
        yield from (b, b + 1, b - 1, b + 0.5, b - 0.5)
    for a in bounds:
        for b in bounds:
            yield (a + b) / 2
    if not whole:
        yield from (b + 0.25 for b in bounds)


def valid_value(arg: Arg) -> Any:
    """A value the schema accepts for `arg` (first candidate the restated semantics accept)."""
    if arg.kind is not None:
        return BINARY
    check = arg.check
    types = arg_types(arg)
    candidates: list[Any] = []
    if check.enum:
        candidates.extend(check.enum)
    for t in types or ("str",):
        if t == "str":
            candidates.append("hello" + "x" * (check.min_length or 0))
        elif t == "int":
            candidates.extend(
                int(c) for c in number_candidates(check, True) if float(c).is_integer()
            )
        elif t == "float":
            candidates.extend(number_candidates(check, False))
        elif t == "list":
            candidates.append([valid_item(check, i) for i in range(max(1, check.min_items or 0))])
        elif t in ("dict", "model"):
            candidates.append({"column": ["a", "b"]} if arg.whole else dict(SAMPLES["dict"]))
        else:
            candidates.append(SAMPLES[t])
    for candidate in candidates:
        if accepts(arg, candidate):
            return candidate
    raise AssertionError(f"no valid value derivable for `{arg.name}` from {check}")


# -- bad values -----------------------------------------------------------------------------------

WRONG_TYPE_POOL: tuple[Any, ...] = ("7", 7, 2.5, True, ["x"], {"k": "v"})
NOT_BINARY_POOL: tuple[Any, ...] = (7, 2.5, True, ["x"], {"k": "v"})
EMPTY_BINARIES: tuple[Any, ...] = (b"", bytearray(), memoryview(b""), "")


class Opaque:
    """A value of no JSON type at all (the last resort for a wrong type)."""

    def __repr__(self) -> str:
        return "<opaque>"


def show(value: Any) -> str:
    """A stable repr for test ids (a memoryview's repr holds its address)."""
    return f"memoryview({value.tobytes()!r})" if isinstance(value, memoryview) else repr(value)


@dataclasses.dataclass(frozen=True)
class Case:
    op: Operation
    arg: Arg
    kind: str
    value: Any
    expect: tuple[str, ...]  # substrings the error message must contain
    unset: tuple[str, ...] = ()  # arguments left out although the baseline gives them

    @property
    def id(self) -> str:
        shown = show(self.value)
        return f"{self.op.method}-{self.arg.name}-{self.kind}-{shown[:24]}"


SKIPPED: list[tuple[str, str, str]] = []  # (method, argument, why no bad value could be made)


def off_bound(kind: str, bound: float, types: tuple[str, ...]) -> list[float]:
    """Values just outside `bound`."""
    if integral(types):
        step = {
            "minimum": math.ceil(bound) - 1,
            "maximum": math.floor(bound) + 1,
            "exclusive_minimum": math.floor(bound),
            "exclusive_maximum": math.ceil(bound),
        }
        return [step[kind]]
    if kind == "minimum":
        return [math.nextafter(bound, -math.inf), bound - 0.5]
    if kind == "maximum":
        return [math.nextafter(bound, math.inf), bound + 0.5]
    return [bound]  # an exclusive bound is itself outside


def not_in(pool: tuple[Any, ...], types: tuple[str, ...], enum: tuple[Any, ...]) -> Any:
    """A value of one of `types` (any type when empty) that is not in `enum`."""
    for value in ("not-a-valid-option", 987654321, 0.123456789, *pool):
        if (not types or any(matches(value, t) for t in types)) and value not in enum:
            return value
    return None


def case_list(op: Operation, arg: Arg) -> list[Case]:
    check = arg.check
    types = arg_types(arg)
    out: list[Case] = []
    why: list[str] = []

    def add(kind: str, value: Any, *expect: str, unset: tuple[str, ...] = ()) -> None:
        out.append(Case(op, arg, kind, value, expect, unset))

    if check.required:
        add("required", None, "is required")
    for partner in arg.requires:
        add("requires", valid_value(arg), f"`{partner}`", unset=(partner,))

    if arg.kind is not None:
        for value in NOT_BINARY_POOL:
            add("wrong-type", value, "must be", "bytes", type(value).__name__)
        for value in EMPTY_BINARIES:
            add("empty-binary", value, "must not be empty")
        return out

    if types:
        wrong = [v for v in WRONG_TYPE_POOL if not any(matches(v, t) for t in types)]
        words = tuple(dict.fromkeys(TYPE_WORDS[t] for t in types))
        for value in wrong or [Opaque()]:
            add("wrong-type", value, "must be", *words, type(value).__name__)
    else:
        why.append("no type in the check: any value has the right type")

    if check.enum:
        scalar_types = tuple(t for t in types if t in ("str", "int", "float", "bool"))
        value = not_in((), scalar_types, check.enum) if scalar_types or not types else None
        if value is None:
            why.append("enum on an argument with no scalar type")
        else:
            add("enum", value, "must be one of", *(repr(v) for v in check.enum))

    for kind, sign in BOUND_SIGNS.items():
        bound = getattr(check, kind)
        if bound is None:
            continue
        if not is_numeric(types):
            why.append(f"{kind} on a non-numeric argument")
            continue
        for value in off_bound(kind, bound, types):
            add(kind, value, f"must be {sign} {bound}")

    if has_bounds(check) and ("float" in types or not types):
        add("nan", math.nan, "must be")  # NaN is in no range (and is not JSON either)

    if check.min_length:
        if "str" in types or not types:
            expect = "must not be empty" if check.min_length == 1 else str(check.min_length)
            add("min_length", "", expect)
            if check.min_length > 1:
                add("min_length", "x" * (check.min_length - 1), expect)
        else:
            why.append("min_length on an argument that cannot be a string")

    if check.min_items:
        if "list" in types or not types:
            add("min_items", [], f"at least {check.min_items} item")
            if check.min_items > 1:
                short = [valid_item(check, i) for i in range(check.min_items - 1)]
                add("min_items", short, f"at least {check.min_items} item")
        else:
            why.append("min_items on an argument that cannot be a list")

    if check.item_types or check.item_enum is not None:
        if "list" in types or not types:
            count = max(1, check.min_items or 0)
            if check.item_types:
                bad = [
                    v for v in WRONG_TYPE_POOL if not any(matches(v, t) for t in check.item_types)
                ]
                words = tuple(dict.fromkeys(TYPE_WORDS[t] for t in check.item_types))
                for item in bad or [Opaque()]:
                    add("item-type", [item] * count, "[0] must be", *words)
            if check.item_enum:
                item = not_in((), check.item_types, check.item_enum)
                if item is None:
                    why.append("item_enum with no scalar item type")
                else:
                    allowed = (repr(v) for v in check.item_enum)
                    add("item-enum", [item] * count, "[0] must be one of", *allowed)
        else:
            why.append("item checks on an argument that cannot be a list")

    SKIPPED.extend((op.method, arg.name, reason) for reason in why)
    return out


def constrained(arg: Arg) -> bool:
    """Whether anything about the argument's value is checked before sending."""
    return (
        arg.kind is not None
        or arg.whole
        or arg.spread
        or arg.check != Check()
        or bool(arg.requires)
    )


CASES: list[Case] = [
    case for op in OPERATIONS for arg in op.args if constrained(arg) for case in case_list(op, arg)
]


# -- calling a method with derived arguments ---------------------------------------------------


def baseline(op: Operation) -> dict[str, Any]:
    """Valid values for the required arguments and for the partners they require."""
    values = {arg.name: valid_value(arg) for arg in op.args if arg.check.required}
    return {"model": URL, **values}


def with_partners(op: Operation, values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    pending = [name for name in values if name in op.index]
    while pending:
        arg = op.args[op.index[pending.pop()]]
        for partner in arg.requires:
            if partner not in out:
                out[partner] = valid_value(op.args[op.index[partner]])
                pending.append(partner)
    return out


def split_call(
    method: Callable[..., Any], values: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any]]:
    """Positional-or-keyword parameters are passed positionally while the slots run in order,
    the way users write calls; everything else by keyword. Checks every name is a parameter."""
    params = inspect.signature(method).parameters
    named = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    unknown = set(values) - named
    assert not unknown, f"{method.__name__}: arguments {unknown} are not in the signature"
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    in_order = True
    for name, param in params.items():
        if name not in values:
            in_order = in_order and param.kind is not param.POSITIONAL_OR_KEYWORD
            assert param.default is not param.empty or param.kind in (
                param.VAR_POSITIONAL,
                param.VAR_KEYWORD,
            ), f"{method.__name__}: required parameter `{name}` not derived"
            continue
        positional = param.kind is param.POSITIONAL_ONLY or (
            param.kind is param.POSITIONAL_OR_KEYWORD and in_order
        )
        if positional:
            assert in_order, f"{method.__name__}: positional-only `{name}` after a gap"
            args.append(values[name])
        else:
            kwargs[name] = values[name]
    inspect.signature(method).bind(*args, **kwargs)
    return args, kwargs


def case_values(case: Case) -> dict[str, Any]:
    values = with_partners(case.op, {**baseline(case.op), case.arg.name: case.value})
    values[case.arg.name] = case.value
    for name in case.unset:
        values.pop(name, None)
    return values


def assert_rejected(case: Case, error: InferenceInputError) -> None:
    assert error.method == case.op.method
    assert error.parameter == case.arg.name, str(error)
    message = str(error)
    assert message.startswith(f"{case.op.method}(): `{case.arg.name}` "), message
    for part in case.expect:
        assert part in message, f"{part!r} not in {message!r}"


# -- the generated cases --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_sync_rejects_before_sending(case: Case) -> None:
    assert not accepts(case.arg, case.value) or case.kind == "requires"
    with respx.mock(assert_all_mocked=True) as router, InferenceClient(token=False) as client:
        method = getattr(client, case.op.method)
        args, kwargs = split_call(method, case_values(case))
        with pytest.raises(InferenceInputError) as info:
            method(*args, **kwargs)
        assert not router.calls
    assert_rejected(case, info.value)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_async_rejects_before_sending(case: Case) -> None:
    async with AsyncInferenceClient(token=False) as client:
        with respx.mock(assert_all_mocked=True) as router:
            method = getattr(client, case.op.method)
            args, kwargs = split_call(method, case_values(case))
            with pytest.raises(InferenceInputError) as info:
                await method(*args, **kwargs)
            assert not router.calls
    assert_rejected(case, info.value)


# -- positive controls: the derived valid values and the edges are accepted -------------------


def full_values(op: Operation) -> dict[str, Any]:
    """Every argument given a derived valid value (deprecated ones aside: they warn)."""
    values = {arg.name: valid_value(arg) for arg in op.args if not arg.deprecated}
    return {"model": URL, **values}


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.method for op in OPERATIONS])
@pytest.mark.parametrize("fill", ["required", "all"])
def test_sync_valid_values_reach_the_transport(op: Operation, fill: str) -> None:
    values = baseline(op) if fill == "required" else full_values(op)
    with respx.mock(assert_all_mocked=True), InferenceClient(token=False) as client:
        method = getattr(client, op.method)
        args, kwargs = split_call(method, values)
        with pytest.raises(AllMockedAssertionError):
            method(*args, **kwargs)


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.method for op in OPERATIONS])
async def test_async_valid_values_reach_the_transport(op: Operation) -> None:
    async with AsyncInferenceClient(token=False) as client:
        with respx.mock(assert_all_mocked=True):
            method = getattr(client, op.method)
            args, kwargs = split_call(method, full_values(op))
            with pytest.raises(AllMockedAssertionError):
                await method(*args, **kwargs)


def edge_values(arg: Arg) -> list[Any]:
    """Values on the edge of what the check allows: bounds themselves, every enum value."""
    check = arg.check
    types = arg_types(arg)
    if arg.kind is not None or (not is_numeric(types) and not check.enum):
        return []
    out: list[Any] = list(check.enum or ())
    numeric = is_numeric(types) and not check.enum
    for bound in (check.minimum, check.maximum):
        if numeric and bound is not None:
            out.append(math.ceil(bound) if integral(types) else bound)
    if numeric and check.exclusive_minimum is not None:
        e = check.exclusive_minimum
        out.append(math.floor(e) + 1 if integral(types) else math.nextafter(e, math.inf))
    if numeric and check.exclusive_maximum is not None:
        e = check.exclusive_maximum
        out.append(math.ceil(e) - 1 if integral(types) else math.nextafter(e, -math.inf))
    return [v for v in out if accepts(arg, v)]


EDGES: list[tuple[Operation, Arg, Any]] = [
    (op, arg, value)
    for op in OPERATIONS
    for arg in op.args
    if not arg.deprecated
    for value in edge_values(arg)
]


@pytest.mark.parametrize(
    ("op", "arg", "value"), EDGES, ids=[f"{o.method}-{a.name}-{v!r}" for o, a, v in EDGES]
)
def test_edge_values_are_accepted(op: Operation, arg: Arg, value: Any) -> None:
    values = with_partners(op, {**baseline(op), arg.name: value})
    with respx.mock(assert_all_mocked=True), InferenceClient(token=False) as client:
        method = getattr(client, op.method)
        args, kwargs = split_call(method, values)
        with pytest.raises(AllMockedAssertionError):
            method(*args, **kwargs)


# -- coverage of the derivation -------------------------------------------------------------------


def test_every_operation_with_checks_has_cases() -> None:
    covered = Counter(case.op.method for case in CASES)
    checked = [op.method for op in OPERATIONS if any(constrained(a) for a in op.args)]
    assert checked, "the operations table has no checked argument at all"
    assert [m for m in checked if not covered[m]] == []
    assert len(OPERATIONS) == len(operations.__all__)


def test_every_checked_argument_has_cases_or_a_reason() -> None:
    covered = {(c.op.method, c.arg.name) for c in CASES}
    skipped = {(method, name) for method, name, _ in SKIPPED}
    missing = [
        (op.method, arg.name)
        for op in OPERATIONS
        for arg in op.args
        if constrained(arg) and (op.method, arg.name) not in covered | skipped
    ]
    assert missing == []


def test_every_check_field_in_the_table_produced_cases() -> None:
    kinds = Counter(case.kind for case in CASES)
    fields = set(inspect.signature(Check).parameters)
    used = {
        name
        for op in OPERATIONS
        for arg in op.args
        for name in fields
        if getattr(arg.check, name) not in (None, (), False)
    }
    kind_of = {
        "types": "wrong-type",
        "enum": "enum",
        "minimum": "minimum",
        "maximum": "maximum",
        "exclusive_minimum": "exclusive_minimum",
        "exclusive_maximum": "exclusive_maximum",
        "min_items": "min_items",
        "min_length": "min_length",
        "item_types": "item-type",
        "item_enum": "item-enum",
        "required": "required",
    }
    assert kinds["nan"] or not any(has_bounds(a.check) for op in OPERATIONS for a in op.args)
    assert used <= set(kind_of), f"Check fields unknown to this test: {used - set(kind_of)}"
    assert [name for name in sorted(used) if not kinds[kind_of[name]]] == []
    if any(a.kind for op in OPERATIONS for a in op.args):
        assert kinds["empty-binary"]
    if any(a.requires for op in OPERATIONS for a in op.args):
        assert kinds["requires"]


def test_skips_are_justified() -> None:
    """Every skipped constraint really cannot give a bad value (see `case_list`)."""
    for method, name, reason in SKIPPED:
        op = next(o for o in OPERATIONS if o.method == method)
        arg = op.args[op.index[name]]
        types = arg_types(arg)
        if reason.startswith("no type"):
            assert not types and arg.kind is None
        elif "non-numeric" in reason:
            assert types and not is_numeric(types)
        elif "cannot be a string" in reason:
            assert types and "str" not in types
        elif "cannot be a list" in reason:
            assert types and "list" not in types
        else:
            assert "enum" in reason, reason


def test_case_counts() -> None:
    """A floor, so a generator change that silently drops checks is noticed."""
    kinds = Counter(case.kind for case in CASES)
    assert sum(kinds.values()) == len(CASES) >= len(OPERATIONS)
    assert kinds["wrong-type"] >= len(OPERATIONS)
