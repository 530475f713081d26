"""Generator stages on small inline schemas: bundling, types, method signatures, docstrings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.binding import build_task
from codegen.load import load_task, task_prefix
from codegen.pipeline import build
from codegen.render_types import render_types

MODE: dict[str, Any] = {
    "title": "Mode",
    "description": "How fast to run.",
    "type": "string",
    "enum": ["fast", "slow"],
}
BOX: dict[str, Any] = {
    "title": "Box",
    "description": "A bounding box.",
    "type": "object",
    "properties": {
        "xmin": {"type": "integer", "description": "Left edge."},
        "ymin": {"type": "integer", "description": "Top edge."},
    },
    "required": ["xmin", "ymin"],
}
INPUT: dict[str, Any] = {
    "title": "MyTaskInput",
    "description": "Inputs of my task.",
    "type": "object",
    "properties": {
        "inputs": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
            "description": "One text or several texts.",
        },
        "parameters": {"$ref": "#/$defs/MyTaskParameters"},
    },
    "required": ["inputs"],
    "$defs": {
        "MyTaskParameters": {
            "title": "MyTaskParameters",
            "description": "Additional parameters of my task.",
            "type": "object",
            "properties": {
                "mode": {"$ref": "../common/mode.json", "description": "The running mode."},
                "color": {
                    "type": "string",
                    "enum": ["red", "blue"],
                    "description": "The color to paint with.",
                },
                "weights": {
                    "type": "array",
                    "items": {"type": "number"},
                    "description": "One weight per class.",
                },
                "limit": {"type": "integer", "minimum": 1, "description": "At most this many."},
            },
        }
    },
}
OUTPUT: dict[str, Any] = {
    "title": "MyTaskOutput",
    "description": "Outputs of my task.",
    "type": "array",
    "items": {"$ref": "#/$defs/MyTaskOutputElement"},
    "$defs": {
        "MyTaskOutputElement": {
            "title": "MyTaskOutputElement",
            "description": "One result of my task.",
            "type": "object",
            "properties": {
                "label": {"type": "string", "description": "The predicted label."},
                "box": {"$ref": "../common/box.json", "description": "Where the label is."},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Free-form tags.",
                },
                "extra": {"$ref": "#/$defs/MyTaskExtra", "description": "Extra information."},
            },
            "required": ["label", "box"],
        },
        "MyTaskExtra": {
            "title": "MyTaskExtra",
            "description": "Extra information about a result.",
            "type": "object",
            "properties": {
                "note": {"type": "string", "description": "A note from the server."},
                "scores": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "number"}},
                    "description": "A matrix of scores.",
                },
            },
        },
    },
}
BINDING: dict[str, Any] = {
    "method": "my_task",
    "summary": "Run my task on a text.",
    "returns": "The results, best first.",
    "route": "task",
    "body": "json",
    "arguments": [
        {"name": "text", "at": "inputs", "positional": True},
        {"name": "model"},
        {"name": "mode", "at": "parameters.mode"},
        {"name": "color", "at": "parameters.color"},
        {"name": "weights", "at": "parameters.weights"},
        {"name": "limit", "at": "parameters.limit", "description": "Overridden in the binding."},
    ],
    "response": {"kind": "json", "shape": "list", "type": "MyTaskOutputElement"},
}


@pytest.fixture
def schemas(tmp_path: Path, write_task: Any) -> Path:
    root = tmp_path / "schemas"
    (root / "common").mkdir(parents=True)
    (root / "common" / "mode.json").write_text(_json(MODE), encoding="utf-8")
    (root / "common" / "box.json").write_text(_json(BOX), encoding="utf-8")
    write_task(root, "my-task", input=INPUT, output=OUTPUT, binding=BINDING)
    return root


@pytest.fixture
def files(schemas: Path) -> dict[str, str]:
    return build(schemas)


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2)


def _block(source: str, start: str, end: str = "\n\n\n") -> str:
    """The text of `source` from `start` up to the next `end` (a class body ends with "\n")."""
    assert start in source, start
    return source.split(start, 1)[1].split(end, 1)[0] + "\n"


def test_task_prefix_is_pascal_case() -> None:
    assert task_prefix("text-to-image") == "TextToImage"
    assert task_prefix("my-task") == "MyTask"
    assert task_prefix("fill-mask") == "FillMask"


def test_refs_across_files_are_bundled_with_task_prefixed_names(schemas: Path) -> None:
    raw = load_task(schemas / "my-task")
    defs = raw.bundle["$defs"]
    assert sorted(defs) == [
        "MyTaskBox",
        "MyTaskExtra",
        "MyTaskInput",
        "MyTaskMode",
        "MyTaskOutput",
        "MyTaskOutputElement",
        "MyTaskParameters",
    ]
    assert raw.roots == {"input": "MyTaskInput", "output": "MyTaskOutput"}
    # Every $ref now points into the bundle, and the common titles got the task prefix.
    params = defs["MyTaskParameters"]["properties"]
    assert params["mode"]["$ref"] == "#/$defs/MyTaskMode"
    assert defs["MyTaskMode"]["title"] == "MyTaskMode"
    assert defs["MyTaskMode"]["enum"] == ["fast", "slow"]
    element = defs["MyTaskOutputElement"]["properties"]
    assert element["box"]["$ref"] == "#/$defs/MyTaskBox"
    assert element["extra"]["$ref"] == "#/$defs/MyTaskExtra"
    assert defs["MyTaskBox"]["title"] == "MyTaskBox"
    names = sorted(p.name for p in raw.sources)
    assert names == ["binding.json", "box.json", "input.json", "mode.json", "output.json"]


def test_the_same_common_file_gives_different_names_per_task(
    schemas: Path, write_task: Any
) -> None:
    other_input = {
        "title": "OtherThingInput",
        "description": "Inputs.",
        "type": "object",
        "properties": {"inputs": {"$ref": "../common/box.json", "description": "A box."}},
        "required": ["inputs"],
    }
    binding = {
        "method": "other_thing",
        "summary": "Other.",
        "returns": "A number.",
        "arguments": [{"name": "box", "at": "inputs", "positional": True}, {"name": "model"}],
        "response": {"kind": "json"},
    }
    write_task(
        schemas,
        "other-thing",
        input=other_input,
        output={"title": "OtherThingOutput", "description": "Out.", "type": "number"},
        binding=binding,
    )
    assert "MyTaskBox" in load_task(schemas / "my-task").bundle["$defs"]
    other = load_task(schemas / "other-thing")
    assert sorted(other.bundle["$defs"]) == ["OtherThingBox", "OtherThingInput", "OtherThingOutput"]
    task = build_task(other)
    assert task.arguments[0].annotation == "OtherThingBox | Mapping[str, Any]"
    assert task.response.annotation == "float"
    files = build(schemas)
    assert "class OtherThingBox(InferenceType):" in files["types/other_thing.py"]
    assert "class MyTaskBox(InferenceType):" in files["types/my_task.py"]
    assert "        box: OtherThingBox | Mapping[str, Any],\n" in files["client.py"]


def test_types_module_named_enum_becomes_literal_alias(schemas: Path) -> None:
    source = render_types(load_task(schemas / "my-task"))
    assert "MyTaskMode: TypeAlias = Literal['fast', 'slow']" in source
    assert "MyTaskMode: TypeAlias = Literal['fast', 'slow']\n\"\"\"\nHow fast to run.\n" in source
    params = _block(source, "class MyTaskParameters(InferenceType):")
    assert "    mode: MyTaskMode | None = None\n" in params
    # An inline enum stays an inline Literal.
    assert "    color: Literal['red', 'blue'] | None = None\n" in params


def test_types_module_oneof_union_arrays_and_nested_dataclasses(files: dict[str, str]) -> None:
    source = files["types/my_task.py"]
    compile(source, "my_task.py", "exec")
    inputs = _block(source, "class MyTaskInput(InferenceType):")
    assert "    inputs: str | list[str]\n" in inputs
    assert "    parameters: MyTaskParameters | None = None\n" in inputs
    params = _block(source, "class MyTaskParameters(InferenceType):")
    assert "    weights: list[float] | None = None\n" in params
    assert "    limit: int | None = None\n" in params
    element = _block(source, "class MyTaskOutputElement(InferenceType):")
    assert "    box: MyTaskBox\n" in element
    assert "    label: str\n" in element
    assert "    tags: list[str] | None = None\n" in element
    assert "    extra: MyTaskExtra | None = None\n" in element
    extra = _block(source, "class MyTaskExtra(InferenceType):")
    assert "    scores: list[list[float]] | None = None\n" in extra
    box = _block(source, "class MyTaskBox(InferenceType):")
    assert "    xmin: int\n" in box
    assert "    ymin: int\n" in box
    assert "MyTaskOutput: TypeAlias = list[MyTaskOutputElement]\n" in source
    assert "@dataclass\nclass MyTaskOutputElement(InferenceType):" in source


def test_types_module_descriptions_become_docstrings(files: dict[str, str]) -> None:
    source = files["types/my_task.py"]
    element = _block(source, "class MyTaskOutputElement(InferenceType):")
    assert element.startswith('\n    """\n    One result of my task.\n    """\n')
    assert '    label: str\n    """\n    The predicted label.\n    """\n' in element
    assert '    box: MyTaskBox\n    """\n    Where the label is.\n    """\n' in element
    params = _block(source, "class MyTaskParameters(InferenceType):")
    assert '    weights: list[float] | None = None\n    """\n    One weight per class.\n' in params
    assert source.startswith(
        "# Generated by hfinfer codegen from schemas/my-task/input.json, "
        "schemas/my-task/output.json, schemas/common/box.json, schemas/common/mode.json.\n"
    )


def test_method_signature_types(files: dict[str, str]) -> None:
    expected = (
        "        self,\n"
        "        text: str | Sequence[str],\n"
        "        *,\n"
        "        model: str | None = None,\n"
        "        mode: MyTaskMode | None = None,\n"
        '        color: Literal["red", "blue"] | None = None,\n'
        "        weights: Sequence[float] | None = None,\n"
        "        limit: int | None = None,\n"
        "        max_retries: int | None = None,\n"
        "    ) -> list[MyTaskOutputElement]:\n"
    )
    for name, prefix in (("client.py", "def"), ("async_client.py", "async def")):
        source = files[name]
        assert f"    {prefix} my_task(\n{expected}" in source, name
        compile(source, name, "exec")


def test_method_docstring_args_section(files: dict[str, str]) -> None:
    doc = _block(files["client.py"], "def my_task(", "        return cast(")
    assert '        """Run my task on a text.\n\n        Args:\n' in doc
    for line in (
        "            text (`str | Sequence[str]`):\n                One text or several texts.\n",
        "            mode (`MyTaskMode | None`, optional):\n                The running mode.\n",
        "            color (`Literal['red', 'blue'] | None`, optional):\n"
        "                The color to paint with.\n",
        "            weights (`Sequence[float] | None`, optional):\n"
        "                One weight per class.\n",
        "            limit (`int | None`, optional):\n                Overridden in the binding.\n",
        "        Returns:\n            `list[MyTaskOutputElement]`: The results, best first.\n",
    ):
        assert line in doc, line


def test_model_arguments_wire_and_checks(schemas: Path) -> None:
    task = build_task(load_task(schemas / "my-task"))
    assert task.method == "my_task"
    assert task.const == "MY_TASK"
    assert task.module == "my_task"
    by_name = {a.name: a for a in task.arguments}
    assert [a.name for a in task.arguments] == [
        "text", "model", "mode", "color", "weights", "limit",
    ]  # fmt: skip
    assert by_name["text"].positional is True
    assert by_name["text"].default is None
    assert by_name["text"].wire == ("inputs",)
    assert by_name["text"].check.types == ("str", "list")
    assert by_name["text"].check.required is True
    assert by_name["model"].is_model is True
    assert by_name["mode"].wire == ("parameters", "mode")
    assert by_name["mode"].check.enum == ("fast", "slow")
    assert by_name["color"].check.enum == ("red", "blue")
    assert by_name["limit"].check.minimum == 1
    assert by_name["weights"].check.types == ("list",)
    assert by_name["weights"].check.item_types == ("float",)
    assert task.response.annotation == "list[MyTaskOutputElement]"


def test_operations_module_carries_the_binding(files: dict[str, str]) -> None:
    operations = files["operations.py"]
    block = _block(operations, "MY_TASK = Operation(", "\n)\n")
    assert 'task="my-task",' in block
    assert 'wire=("parameters", "color"),' in block
    assert 'enum=("red", "blue")' in block
    assert 'shape="list",' in block
    assert 'type="hfinfer._generated.types.my_task:MyTaskOutputElement",' in block
    compile(operations, "operations.py", "exec")
