"""A bad schema or binding raises SchemaError naming the file and the JSON pointer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from codegen.binding import build_task
from codegen.errors import SchemaError, pointer
from codegen.load import load_task
from codegen.pipeline import build

Mutator = Callable[[dict[str, dict[str, Any]]], None]


@pytest.fixture
def task_dir(tmp_path: Path, write_task: Any, word_count: dict[str, dict[str, Any]]) -> Any:
    """Write the word-count task after applying `mutate` to its documents; return its folder."""

    def make(mutate: Mutator | None = None) -> Path:
        docs = word_count
        if mutate is not None:
            mutate(docs)
        return write_task(tmp_path / "schemas", "word-count", **docs)  # type: ignore[no-any-return]

    return make


def load_and_build(folder: Path) -> None:
    build_task(load_task(folder))


def assert_schema_error(exc: SchemaError, path: Path, ptr: str, fragment: str) -> None:
    assert exc.path == path
    assert exc.pointer == ptr
    text = str(exc)
    assert text.startswith(f"{path}: at {ptr}: ")
    assert fragment in text


def test_pointer_escapes_per_rfc6901() -> None:
    assert pointer() == "/"
    assert pointer("properties", "a/b", "c~d", 0) == "/properties/a~1b/c~0d/0"


def test_valid_task_loads(task_dir: Any) -> None:
    load_and_build(task_dir())


def test_invalid_json(task_dir: Any) -> None:
    folder = task_dir()
    (folder / "output.json").write_text('{"title": "WordCountOutput",\n  oops}', encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "output.json", "/", "invalid JSON at line 2")


def test_invalid_json_in_binding(task_dir: Any) -> None:
    folder = task_dir()
    (folder / "binding.json").write_text("[1, 2,", encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "binding.json", "/", "invalid JSON")


def test_unknown_keyword(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["input"]["properties"]["inputs"]["maxWords"] = 3

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "input.json", "/properties/inputs/maxWords", "unknown schema keyword"
    )


def test_unknown_keyword_in_defs(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["input"]["$defs"]["WordCountParameters"]["propertyNames"] = {}

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value,
        folder / "input.json",
        "/$defs/WordCountParameters/propertyNames",
        "'propertyNames'",
    )


def test_unknown_type(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["output"]["properties"]["count"]["type"] = "int"

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "output.json", "/properties/count/type", "unknown type 'int'"
    )


def test_property_without_description(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        del docs["input"]["$defs"]["WordCountParameters"]["properties"]["lowercase"]["description"]

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value,
        folder / "input.json",
        "/$defs/WordCountParameters/properties/lowercase",
        "property has no `description`",
    )


def test_property_without_description_pointer_is_escaped(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["output"]["properties"]["per/line"] = {"type": "integer"}

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "output.json", "/properties/per~1line", "no `description`"
    )


def test_required_names_missing_property(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["output"]["required"] = ["count", "total"]

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "output.json", "/required", "names a property that does not exist"
    )


def test_binding_unknown_key(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["retries"] = 3

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "binding.json", "/retries", "unknown binding key 'retries'"
    )


def test_binding_argument_unknown_key(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["arguments"][2]["alias"] = "lower"

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "binding.json", "/arguments/2/alias", "unknown argument key 'alias'"
    )


def test_binding_at_points_to_missing_property(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["arguments"][2]["at"] = "parameters.uppercase"

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value,
        folder / "binding.json",
        "/arguments/2/at",
        "input.json has no property 'parameters.uppercase'",
    )


def test_missing_binding(task_dir: Any) -> None:
    folder = task_dir()
    (folder / "binding.json").unlink()
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "binding.json", "/", "missing binding.json")


def test_missing_output(task_dir: Any) -> None:
    folder = task_dir()
    (folder / "output.json").unlink()
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "output.json", "/", "missing output.json")


def test_duplicate_argument(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["arguments"].append({"name": "lowercase", "at": "parameters.lowercase"})

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "binding.json", "/arguments/3/name", "'lowercase' appears twice"
    )


def test_only_with_names_an_argument(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["arguments"][2]["only_with"] = "nope"

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "binding.json", "/arguments/2/only_with", "unknown argument 'nope'"
    )


def test_call_option_name_is_reserved(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["arguments"].append({"name": "max_retries", "at": "parameters.lowercase"})

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "binding.json", "/arguments/3/name", "reserved")


def test_missing_model_argument(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        del docs["binding"]["arguments"][1]

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "binding.json", "/arguments", '"model"')


def test_ref_to_missing_file(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["output"]["properties"]["count"] = {
            "$ref": "../common/nope.json",
            "description": "x",
        }

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(
        info.value, folder / "output.json", "/properties/count/$ref", "points to a missing file"
    )


def test_response_type_unknown(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["response"]["type"] = "WordCountResult"

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "binding.json", "/response/type", "'WordCountResult'")


def test_bad_route_choice(task_dir: Any) -> None:
    def mutate(docs: dict[str, dict[str, Any]]) -> None:
        docs["binding"]["route"] = "models"

    folder = task_dir(mutate)
    with pytest.raises(SchemaError) as info:
        load_and_build(folder)
    assert_schema_error(info.value, folder / "binding.json", "/route", "got 'models'")


def test_duplicate_method_across_tasks(
    tmp_path: Path, write_task: Any, word_count: dict[str, dict[str, Any]]
) -> None:
    schemas = tmp_path / "schemas"
    write_task(schemas, "word-count", **word_count)
    docs = json.loads(json.dumps(word_count))
    for doc, title in ((docs["input"], "WordTallyInput"), (docs["output"], "WordTallyOutput")):
        doc["title"] = title
    docs["input"]["$defs"]["WordCountParameters"]["title"] = "WordTallyParameters"
    docs["input"]["$defs"] = {"WordTallyParameters": docs["input"]["$defs"]["WordCountParameters"]}
    docs["input"]["properties"]["parameters"]["$ref"] = "#/$defs/WordTallyParameters"
    docs["binding"]["response"]["type"] = "WordTallyOutput"
    write_task(schemas, "word-tally", **docs)
    with pytest.raises(SchemaError) as info:
        build(schemas)
    assert_schema_error(
        info.value,
        schemas / "word-tally" / "binding.json",
        "/method",
        "method 'word_count' is also bound by word-count",
    )


def test_no_task_folders(tmp_path: Path) -> None:
    (tmp_path / "schemas" / "common").mkdir(parents=True)
    with pytest.raises(SchemaError) as info:
        build(tmp_path / "schemas")
    assert_schema_error(info.value, tmp_path / "schemas", "/", "no task folders found")
