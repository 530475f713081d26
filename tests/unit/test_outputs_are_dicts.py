"""Every generated type is a dict (as huggingface_hub's are) and keeps its attributes in sync."""

from __future__ import annotations

import copy
import dataclasses
import json
import operator
import pickle
from typing import Any

import pytest

import hfinfer
from hfinfer._decoding import decoder_for
from hfinfer._model import InferenceType

CHAT_REPLY: dict[str, Any] = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1710498504,
    "model": "meta-llama/Meta-Llama-3-8B-Instruct",
    "system_fingerprint": "2.0.4-sha-f426a33",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "logprobs": {
                "content": [
                    {"token": "Hi", "logprob": -0.25,
                     "top_logprobs": [{"token": "Hi", "logprob": -0.25}]}
                ]
            },
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "0", "type": "function",
                     "function": {"name": "get_weather", "arguments": {"city": "Paris"},
                                  "description": None}}
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    "service-tier": "default",  # an extra field the schema does not know (key normalised)
}  # fmt: skip


def chat_output() -> hfinfer.ChatCompletionOutput:
    out = decoder_for(hfinfer.ChatCompletionOutput)(json.loads(json.dumps(CHAT_REPLY)))
    assert isinstance(out, hfinfer.ChatCompletionOutput)
    return out


def expected_chat_dict() -> dict[str, Any]:
    expected = json.loads(json.dumps(CHAT_REPLY))
    expected["service_tier"] = expected.pop("service-tier")
    return expected


def every_generated_class() -> list[type[InferenceType]]:
    classes = [getattr(hfinfer, name) for name in hfinfer.__all__]
    return [
        c
        for c in classes
        if isinstance(c, type) and issubclass(c, InferenceType) and c is not InferenceType
    ]


@pytest.mark.parametrize("cls", every_generated_class(), ids=lambda c: c.__name__)
def test_every_generated_type_is_a_dict_dataclass(cls: type[InferenceType]) -> None:
    assert issubclass(cls, dict)
    assert dataclasses.is_dataclass(cls)
    # No field hides a dict method (the generator rejects such a property name).
    assert not {f.name for f in dataclasses.fields(cls)} & set(dir(dict))
    # Decoding an object with only the required fields gives a dict with every field.
    required = {
        f.name: None
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    out = decoder_for(cls)(required)
    assert isinstance(out, dict)
    assert list(out) == [f.name for f in dataclasses.fields(cls)]


def test_nested_output_is_dicts_all_the_way_down() -> None:
    out = chat_output()
    assert isinstance(out, dict)
    assert isinstance(out.choices[0], dict)
    assert isinstance(out.choices[0].message.tool_calls[0].function, dict)
    assert out["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert out.choices[0].message.tool_calls[0].function.arguments == {"city": "Paris"}


def test_json_dumps_of_a_nested_output() -> None:
    out = chat_output()
    assert json.loads(json.dumps(out)) == expected_chat_dict()
    assert json.loads(json.dumps(out.choices[0].logprobs)) == CHAT_REPLY["choices"][0]["logprobs"]


def test_equality_with_dicts() -> None:
    out = chat_output()
    assert out == expected_chat_dict()
    assert expected_chat_dict() == out
    assert out != {**expected_chat_dict(), "id": "other"}
    assert not operator.ne(out, expected_chat_dict())
    element = hfinfer.TextClassificationOutputElement(label="x", score=0.5)
    assert element == {"label": "x", "score": 0.5}
    assert operator.eq({"label": "x", "score": 0.5}, element)  # the reflected comparison
    assert [element] == [{"label": "x", "score": 0.5}]
    assert element != {"label": "x", "score": 0.25}
    assert element != "x"


def test_equality_between_types_needs_the_same_type() -> None:
    a = hfinfer.TextClassificationOutputElement(label="x", score=0.5)
    assert a == hfinfer.TextClassificationOutputElement(label="x", score=0.5)
    other = hfinfer.AudioClassificationOutputElement(label="x", score=0.5)
    assert a != other
    assert not operator.eq(a, other)


def test_constructed_instances_are_dicts_too() -> None:
    element = hfinfer.TextClassificationOutputElement(label="x", score=0.5)
    assert dict(element) == {"label": "x", "score": 0.5}
    assert len(element) == 2
    assert list(element) == ["label", "score"]
    assert list(element.keys()) == ["label", "score"]
    assert list(element.values()) == ["x", 0.5]
    assert "label" in element and "nope" not in element
    assert element.get("nope", 3) == 3
    with pytest.raises(KeyError):
        element["nope"]


def test_attribute_and_item_writes_stay_in_sync() -> None:
    element = hfinfer.TextClassificationOutputElement(label="x", score=0.5)
    element.label = "y"
    assert element["label"] == "y"
    element["score"] = 0.75
    assert element.score == 0.75
    element.update({"label": "z"}, score=1.0)
    assert (element.label, element.score) == ("z", 1.0)
    element |= {"label": "w"}
    assert element.label == "w"
    element["new"] = 1
    assert element.new == 1  # type: ignore[attr-defined]
    assert element.setdefault("other", 2) == 2
    assert element.other == 2  # type: ignore[attr-defined]
    assert element.pop("new") == 1
    assert not hasattr(element, "new")
    del element["other"]
    assert not hasattr(element, "other")
    element.extra = [1]  # type: ignore[attr-defined]
    assert element["extra"] == [1]
    del element.extra  # type: ignore[attr-defined]
    assert "extra" not in element
    assert element.to_dict() == {"label": "w", "score": 1.0}
    element.clear()
    assert element == {}
    assert "label" not in vars(element)


def test_extra_server_fields_are_items_and_attributes() -> None:
    out = chat_output()
    assert out["service_tier"] == "default"
    assert out.service_tier == "default"  # type: ignore[attr-defined]
    assert "service_tier=" in repr(out)
    assert out.to_dict()["service_tier"] == "default"


def test_an_extra_field_named_like_a_dict_method_stays_an_item() -> None:
    out = decoder_for(hfinfer.TextClassificationOutputElement)(
        {"label": "x", "score": 0.5, "items": [1, 2], "keys": "k"}
    )
    assert out["items"] == [1, 2] and out["keys"] == "k"
    assert callable(out.items) and callable(out.keys)
    assert json.loads(json.dumps(out)) == {"label": "x", "score": 0.5, "items": [1, 2], "keys": "k"}


def test_to_dict_is_a_plain_json_ready_dict() -> None:
    out = chat_output()
    plain = out.to_dict()
    assert type(plain) is dict
    assert type(plain["choices"][0]) is dict
    assert type(plain["choices"][0]["message"]["tool_calls"][0]) is dict
    assert plain == expected_chat_dict()
    trimmed = out.to_dict(exclude_none=True)
    assert "content" not in trimmed["choices"][0]["message"]


def test_repr_names_the_type_and_every_field() -> None:
    element = hfinfer.TextClassificationOutputElement(label="x", score=0.5)
    assert repr(element) == "TextClassificationOutputElement(label='x', score=0.5)"


def test_unhashable_like_a_dict() -> None:
    with pytest.raises(TypeError):
        hash(hfinfer.TextClassificationOutputElement(label="x", score=0.5))


@pytest.mark.parametrize(
    "clone",
    [
        lambda o: pickle.loads(pickle.dumps(o)),
        lambda o: pickle.loads(pickle.dumps(o, protocol=2)),
        copy.copy,
        copy.deepcopy,
    ],
    ids=["pickle", "pickle-2", "copy", "deepcopy"],
)
def test_pickle_and_copy_keep_type_items_and_attributes(clone: Any) -> None:
    out = chat_output()
    again = clone(out)
    assert type(again) is type(out)
    assert again == out
    assert again.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert again.service_tier == "default"
    assert vars(again) == vars(out)
    again.id = "changed"
    assert again["id"] == "changed" and out.id == "chatcmpl-123"


def test_typed_inputs_are_sent_as_their_dict() -> None:
    from hfinfer._encoding import jsonable

    message = decoder_for(hfinfer.ChatCompletionInputMessage)({"role": "user", "content": "hi"})
    assert jsonable([message]) == [{"role": "user", "content": "hi"}]
