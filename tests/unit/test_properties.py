"""Property tests (hypothesis): the SSE decoder and the response decoders of every task.

* SSE: arbitrary bytes split anywhere never raise; where a stream is split does not change its
  events; events written as `data:` lines (any of \\n, \\r\\n, \\r) come back as written.
* Responses: whatever a server answers with status 200 (arbitrary bytes; arbitrary JSON, mostly
  shaped like the op's generated type with wrong values anywhere inside), every task method
  returns a value or raises `InferenceDecodeError`, never a bare KeyError/TypeError/ValueError/...
  (a deterministic table of wrong values per decoded field backs the random search up). Streams
  (`chat_completion(stream=True)`, `text_generation(stream=True[, details=True])`) with arbitrary
  `data:` payloads raise only typed errors. End to end through respx, sync for every operation
  (derived from the operations table), plus an async sample.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import importlib
import io
import itertools
import json
import sys
import types
import typing
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import pytest
import respx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

import hfinfer._generated.operations as operations
from hfinfer import AsyncInferenceClient, InferenceClient
from hfinfer._operation import Arg, Operation
from hfinfer._sse import SSEDecoder
from hfinfer.errors import InferenceDecodeError, InferenceError, TextGenerationError

URL = "http://127.0.0.1:9/x"
OPERATIONS: tuple[Operation, ...] = tuple(
    op
    for op in (getattr(operations, name) for name in operations.__all__)
    if isinstance(op, Operation)
)
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def examples(n: int) -> settings:
    return settings(FAST, max_examples=n)


# -- SSE decoder ----------------------------------------------------------------------------------


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def decode_chunks(chunks: Iterable[bytes]) -> list[str]:
    decoder = SSEDecoder()
    events: list[str] = []
    for chunk in chunks:
        out = decoder.feed(chunk)
        assert isinstance(out, list)
        events.extend(out)
    events.extend(decoder.flush())
    assert all(isinstance(e, str) for e in events)
    return events


SSE_PIECES = st.sampled_from(
    [
        b"data:", b"data: ", b"data", b"data:  ", b":", b": comment", b"event: e", b"id: 1",
        b"retry: 5", b" ", b"\n", b"\r", b"\r\n", b"\n\n", b"\r\r", b"x", b"[DONE]",
        b"\xc3\xa9", b"\xe6\x97", b"\xa5", b"\xff", b"{}",
    ]
)  # fmt: skip
SSE_LIKE = st.lists(SSE_PIECES | st.binary(max_size=3), max_size=40).map(b"".join)
ANY_BYTES = st.one_of(st.binary(max_size=300), SSE_LIKE)
CUTS = st.lists(st.integers(min_value=0, max_value=320), max_size=10)


@settings(examples(300))
@given(data=ANY_BYTES, cuts=CUTS)
def test_sse_arbitrary_bytes_split_anywhere_never_raise(data: bytes, cuts: list[int]) -> None:
    decode_chunks(split(data, cuts))


@settings(examples(300))
@given(data=ANY_BYTES, cuts=CUTS)
def test_sse_split_points_do_not_change_the_events(data: bytes, cuts: list[int]) -> None:
    whole = decode_chunks([data])
    assert decode_chunks(split(data, cuts)) == whole
    assert decode_chunks(data[i : i + 1] for i in range(len(data))) == whole
    assert decode_chunks([b"", data, b""]) == whole  # empty chunks are no-ops


LINE_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=20)
EOL = st.sampled_from([b"\n", b"\r\n", b"\r"])
BLANK_AFTER_CR = st.sampled_from([b"\r\n", b"\r"])
OTHER_FIELD = st.sampled_from([b": keep-alive", b"event: message", b"id: 7", b"retry: 100", b":"])


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A stream written from events (lists of lines) and the `data` the decoder must give back."""
    events = draw(st.lists(st.lists(LINE_TEXT, min_size=1, max_size=4), max_size=5))
    body = b""
    expected: list[str] = []
    for n, lines in enumerate(events):
        got: list[str] = []
        for text in lines:
            if draw(st.booleans()):
                body += draw(OTHER_FIELD) + draw(EOL)  # ignored between data lines
            prefix = draw(st.sampled_from([b"data: ", b"data:"]))
            body += prefix + text.encode() + draw(EOL)
            # One space after the colon is part of the syntax, not of the value.
            got.append(text[1:] if prefix == b"data:" and text.startswith(" ") else text)
        expected.append("\n".join(got))
        if n < len(events) - 1 or draw(st.booleans()):  # the last blank line is optional
            # After a lone \r, a \n would complete a \r\n, not make a blank line.
            body += draw(BLANK_AFTER_CR if body.endswith(b"\r") else EOL)
    return body, expected


@settings(examples(300))
@given(stream=sse_streams(), cuts=CUTS)
def test_sse_data_lines_round_trip(stream: tuple[bytes, list[str]], cuts: list[int]) -> None:
    body, expected = stream
    assert decode_chunks([body]) == expected
    assert decode_chunks(split(body, cuts)) == expected


# -- arbitrary response bodies for every task --------------------------------------------------


def _fields(cls: Any, seen: set[type]) -> set[str]:
    """Field names of a generated type and of the generated types its fields hold."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)) or cls in seen:
        return set()
    seen.add(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for hint in typing.get_type_hints(cls).values():
        stack = [hint]
        while stack:
            t = stack.pop()
            stack.extend(typing.get_args(t))
            names |= _fields(t, seen)
    return names


def resolve(ref: Any) -> Any:
    """A decode type from the table: a class, or a "module:Class" reference, or None."""
    if isinstance(ref, str):
        module, _, name = ref.partition(":")
        return getattr(importlib.import_module(module), name)
    return ref


def keys_for(op: Operation, streamed: bool) -> list[str]:
    """JSON keys the op's decoders look at (field names, zipped columns), and error keys."""
    decode_type = resolve(op.stream.type if streamed and op.stream else op.response.type)
    names = _fields(decode_type, set()) | {src for src, _ in op.response.zip}
    return sorted(names | {"error", "error_type"})


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("L", (2, 2)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


BASE64 = st.sampled_from(["", "aGVsbG8=", "not base64!", "ü", _png()])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    BASE64,
    st.just("[DONE]"),
)


@functools.cache
def json_values(keys: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Arbitrary JSON whose objects mostly use `keys` (so decoders get past the top level)."""
    key = st.sampled_from(keys) | st.text(max_size=6) if keys else st.text(max_size=6)
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(key, children, max_size=6)
        ),
        max_leaves=12,
    )


def near(hint: Any, keys: tuple[str, ...], depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON shaped like `hint` (a generated type's field), each part sometimes anything at all:
    right keys with wrong values, right lists of wrong items, and so on down the type."""
    anything = json_values(keys)
    if depth > 3:
        return anything
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    typed: st.SearchStrategy[Any]
    if origin in (typing.Union, types.UnionType):
        typed = st.one_of([near(a, keys, depth + 1) for a in args])
    elif origin is typing.Literal:
        typed = st.sampled_from(args)
    elif origin is list:
        typed = st.lists(near(args[0] if args else Any, keys, depth + 1), max_size=3)
    elif origin is dict:
        typed = st.dictionaries(st.text(max_size=6), near(args[1], keys, depth + 1), max_size=3)
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        fields = typing.get_type_hints(hint, globalns=vars(sys.modules[hint.__module__]))
        typed = st.fixed_dictionaries(
            {}, optional={name: near(h, keys, depth + 1) for name, h in fields.items()}
        )
    elif hint is str:
        typed = st.text(max_size=12)
    elif hint is int:
        typed = st.integers()
    elif hint is float:
        typed = st.floats(allow_nan=False, allow_infinity=False) | st.integers()
    elif hint is bool:
        typed = st.booleans()
    elif hint is type(None):
        typed = st.none()
    elif hint is bytes or getattr(hint, "__name__", "") == "Image":
        typed = BASE64
    else:
        return anything
    return st.one_of(typed, typed, SCALARS, anything)  # right shape, wrong scalar, anything


_RESPONSES: dict[tuple[str, bool], st.SearchStrategy[Any]] = {}


def response_values(op: Operation, streamed: bool) -> st.SearchStrategy[Any]:
    """Cached: building the strategy walks the op's types."""
    key = (op.method, streamed)
    if key not in _RESPONSES:
        _RESPONSES[key] = _response_values(op, streamed)
    return _RESPONSES[key]


def _response_values(op: Operation, streamed: bool) -> st.SearchStrategy[Any]:
    """Arbitrary JSON, and JSON shaped like what the op decodes (alone, in a list, in a list of
    lists, or as the columns a `Decode.zip` reads)."""
    keys = tuple(keys_for(op, streamed))
    anything = json_values(keys)
    cls = resolve(op.stream.type if streamed and op.stream else op.response.type)
    if cls is None:
        return anything
    one = near(cls, keys)
    many = st.lists(one, max_size=3)
    nested = st.lists(many, max_size=2)
    if streamed:
        expected = [one]
    elif op.response.zip:
        hints = typing.get_type_hints(cls, globalns=vars(sys.modules[cls.__module__]))
        column = {
            src: st.one_of(st.lists(near(hints.get(dst, Any), keys), max_size=3), SCALARS, anything)
            for src, dst in op.response.zip
        }
        expected = [st.fixed_dictionaries({}, optional=column)]
    else:
        by_shape = {"instance": [one], "list": [many], "nested-first": [nested, many]}
        expected = by_shape.get(op.response.shape, [one, many])  # first*, one-or-many
    # The shape the op expects, most of the time; any other shape or anything, the rest.
    return st.one_of(*expected, *expected, *expected, anything, one, many, nested)


def response_bodies(op: Operation) -> st.SearchStrategy[bytes]:
    return response_values(op, False).map(lambda v: json.dumps(v).encode())


# Bodies hypothesis is unlikely to invent: a >4300-digit integer (int() refuses it), an integer
# no float can hold, JSON's non-standard constants, deep nesting, bad UTF-8, a BOM.
SPECIAL_BODIES = [
    b"1" + b"0" * 5000,
    b"[1" + b"0" * 400 + b"]",
    b"[NaN, Infinity, -Infinity]",
    b"[" * 10_000 + b"]" * 10_000,
    b"\xff\xfe\x00",
    b"\xef\xbb\xbf{}",
    b"",
]


def required_values(op: Operation) -> dict[str, Any]:
    """Valid values for the required arguments (from their checks), by keyword."""
    return {arg.name: _valid(arg) for arg in op.args if arg.check.required}


def _valid(arg: Arg) -> Any:
    check = arg.check
    if arg.kind is not None:
        return b"\x00\x01binary"
    if check.enum:
        return check.enum[0]
    names = check.types or ("str",)
    if "list" in names:
        item: Any = {"role": "user", "content": "hi"} if "dict" in check.item_types else "a"
        if check.item_enum:
            item = check.item_enum[0]
        count = max(1, check.min_items or 0)
        return [f"{item}{i}" if isinstance(item, str) else item for i in range(count)]
    if "str" in names:
        return "hello" + "x" * (check.min_length or 0)
    if "dict" in names or "model" in names:
        return {"column": ["a", "b"]}
    if "int" in names or "float" in names:
        return max(1, check.minimum or 0)
    return True


def _variants(flag: str | None, base: dict[str, Any]) -> list[dict[str, Any]]:
    return [base] if flag is None else [{**base, flag: False}, {**base, flag: True}]


# Every operation, non-streamed; both sides of a `Decode.unless` switch (text_generation details).
VARIANTS: list[tuple[Operation, dict[str, Any]]] = [
    (op, values)
    for op in OPERATIONS
    for values in _variants(op.response.unless, required_values(op))
]
STREAM_VARIANTS: list[tuple[Operation, dict[str, Any]]] = [
    (op, values)
    for op in OPERATIONS
    if op.stream is not None
    for values in _variants(op.stream.unless, {**required_values(op), op.stream.when: True})
]


def _id(variant: tuple[Operation, dict[str, Any]]) -> str:
    op, values = variant
    flags = [k for k, v in values.items() if v is True]
    return "-".join([op.method, *flags])


def check_result(op: Operation, values: dict[str, Any], result: Any) -> None:
    """What the decoder promises for the shapes it checks itself."""
    decode = op.response
    if decode.kind == "bytes":
        assert isinstance(result, bytes)
    cls = resolve(decode.type)
    if decode.kind != "json" or cls is None:
        return
    if decode.field and not values.get(decode.unless or ""):
        return
    if decode.shape in ("list", "nested-first"):
        assert isinstance(result, list)
        assert all(isinstance(item, cls) for item in result)
    elif decode.shape == "one-or-many" and isinstance(result, list):
        assert all(isinstance(item, cls) for item in result)
    else:
        assert isinstance(result, cls)


def call_sync(op: Operation, values: dict[str, Any], body: bytes) -> None:
    with respx.mock(assert_all_mocked=True) as router, InferenceClient(token=False) as client:
        router.route().respond(200, content=body)
        try:
            result = getattr(client, op.method)(model=URL, **values)
        except InferenceError as exc:
            assert isinstance(exc, InferenceDecodeError), repr(exc)
            return
        assert router.calls.call_count == 1
    check_result(op, values, result)


async def call_async(op: Operation, values: dict[str, Any], body: bytes) -> None:
    async with AsyncInferenceClient(token=False) as client:
        with respx.mock(assert_all_mocked=True) as router:
            router.route().respond(200, content=body)
            try:
                result = await getattr(client, op.method)(model=URL, **values)
            except InferenceError as exc:
                assert isinstance(exc, InferenceDecodeError), repr(exc)
                return
    check_result(op, values, result)


def with_specials(test: Any) -> Any:
    for body in SPECIAL_BODIES:
        test = example(body=body)(test)
    return test


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
@settings(examples(20))
@with_specials
@given(body=st.binary(max_size=200))
def test_any_bytes_body_decodes_or_raises_typed(
    variant: tuple[Operation, dict[str, Any]], body: bytes
) -> None:
    call_sync(*variant, body)


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
@settings(examples(40))
@given(data=st.data())
def test_any_json_body_decodes_or_raises_typed(
    variant: tuple[Operation, dict[str, Any]], data: st.DataObject
) -> None:
    op, values = variant
    body = data.draw(response_bodies(op), label="body")
    call_sync(op, values, body)


def body_for(op: Operation) -> st.SearchStrategy[bytes]:
    return st.one_of(response_bodies(op), st.binary(max_size=100), st.sampled_from(SPECIAL_BODIES))


@settings(examples(40))
@given(variant=st.sampled_from(VARIANTS), data=st.data())
def test_async_sample_decodes_or_raises_typed(
    variant: tuple[Operation, dict[str, Any]], data: st.DataObject
) -> None:
    op, values = variant
    asyncio.run(call_async(op, values, data.draw(body_for(op), label="body")))


WRONG_SCALARS: tuple[Any, ...] = (True, 1.5, "x", [1], {"k": 1})


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_wrong_value_in_each_field_decodes_or_raises_typed(
    variant: tuple[Operation, dict[str, Any]],
) -> None:
    """Deterministic companion of the properties: each key the op decodes (its type's fields
    and `Decode.zip` columns), holding each wrong kind of value, alone and inside a list."""
    op, values = variant
    for key in keys_for(op, streamed=False):
        for wrong in WRONG_SCALARS:
            for shaped in ({key: wrong}, [{key: wrong}], [[{key: wrong}]]):
                call_sync(op, values, json.dumps(shaped).encode())


# -- arbitrary stream events ------------------------------------------------------------------------


def stream_bodies(op: Operation) -> st.SearchStrategy[bytes]:
    """`data:` events holding JSON shaped like the op's stream chunks (or anything), error events,
    text and [DONE]; or SSE-ish bytes."""
    value = response_values(op, True)
    anything = json_values(tuple(keys_for(op, True)))
    payloads = st.one_of(
        value.map(json.dumps),
        st.fixed_dictionaries({"error": anything}, optional={"error_type": anything}).map(
            json.dumps
        ),
        LINE_TEXT,
        st.just("[DONE]"),
    )
    return st.one_of(
        st.lists(payloads, max_size=5).map(
            lambda items: b"".join(b"data: " + p.encode() + b"\n\n" for p in items)
        ),
        ANY_BYTES,
    )


STREAM_ERRORS = (InferenceDecodeError, TextGenerationError)  # bad JSON/shape; error events


def stream_sync(op: Operation, values: dict[str, Any], body: bytes) -> None:
    with respx.mock(assert_all_mocked=True) as router, InferenceClient(token=False) as client:
        router.route().respond(200, content=body, headers={"content-type": "text/event-stream"})
        try:
            with getattr(client, op.method)(model=URL, **values) as stream:
                for _ in stream:
                    pass
        except InferenceError as exc:
            assert isinstance(exc, STREAM_ERRORS), repr(exc)


async def stream_async(op: Operation, values: dict[str, Any], body: bytes) -> None:
    async with AsyncInferenceClient(token=False) as client:
        with respx.mock(assert_all_mocked=True) as router:
            headers = {"content-type": "text/event-stream"}
            router.route().respond(200, content=body, headers=headers)
            try:
                async with await getattr(client, op.method)(model=URL, **values) as stream:
                    async for _ in stream:
                        pass
            except InferenceError as exc:
                assert isinstance(exc, STREAM_ERRORS), repr(exc)


@pytest.mark.parametrize("variant", STREAM_VARIANTS, ids=[_id(v) for v in STREAM_VARIANTS])
@settings(examples(60))
@given(data=st.data())
def test_any_stream_events_raise_only_typed_errors(
    variant: tuple[Operation, dict[str, Any]], data: st.DataObject
) -> None:
    op, values = variant
    body = data.draw(stream_bodies(op), label="body")
    stream_sync(op, values, body)


SPECIAL_EVENTS = [
    (variant, body) for variant in STREAM_VARIANTS for body in SPECIAL_BODIES if b"\n" not in body
]


@pytest.mark.parametrize(
    ("variant", "payload"),
    SPECIAL_EVENTS,
    ids=[f"{_id(v)}-{i % len(SPECIAL_BODIES)}" for i, (v, _) in enumerate(SPECIAL_EVENTS)],
)
def test_special_stream_payloads_raise_only_typed_errors(
    variant: tuple[Operation, dict[str, Any]], payload: bytes
) -> None:
    """The bodies of `SPECIAL_BODIES` as the `data` of a stream event."""
    stream_sync(*variant, b"data: " + payload + b"\n\n")


@settings(examples(30))
@given(variant=st.sampled_from(STREAM_VARIANTS), data=st.data())
def test_async_stream_sample_raises_only_typed_errors(
    variant: tuple[Operation, dict[str, Any]], data: st.DataObject
) -> None:
    op, values = variant
    body = data.draw(stream_bodies(op), label="body")
    asyncio.run(stream_async(op, values, body))


# -- the derivation covers the table ------------------------------------------------------------


def test_every_operation_is_exercised() -> None:
    assert {op.method for op, _ in VARIANTS} == {op.method for op in OPERATIONS}
    assert len(OPERATIONS) == len(operations.__all__)
    streamed = {op.method for op in OPERATIONS if op.stream is not None}
    assert streamed and {op.method for op, _ in STREAM_VARIANTS} == streamed


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_derived_arguments_reach_the_server(variant: tuple[Operation, dict[str, Any]]) -> None:
    """The calls above get past validation, so the properties really test decoding."""
    op, values = variant
    with respx.mock(assert_all_mocked=True) as router, InferenceClient(token=False) as client:
        router.route().respond(200, content=b"\x00")
        expect = (
            nullcontext() if op.response.kind == "bytes" else pytest.raises(InferenceDecodeError)
        )
        with expect:
            getattr(client, op.method)(model=URL, **values)
        assert router.calls.call_count == 1
