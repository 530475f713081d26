"""Binding features and the one type translator: aliases, `encode: "list"`, dict-safe property
names, `Raises:` docstrings, and argument/result annotations derived from the rendered types."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from codegen.binding import build_task
from codegen.errors import SchemaError
from codegen.load import load_task
from codegen.pipeline import build
from codegen.schema_types import Field, TypeTable

STOP = {
    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "description": "Where to stop.",
}


@pytest.fixture
def docs(word_count: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The word-count task with a `stop` parameter (string or list of strings)."""
    word_count["input"]["$defs"]["WordCountParameters"]["properties"]["stop"] = copy.deepcopy(STOP)
    word_count["binding"]["arguments"].append(
        {"name": "stop", "at": "parameters.stop", "encode": "list"}
    )
    return word_count


def write(tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]) -> Path:
    return write_task(tmp_path / "schemas", "word-count", **docs)  # type: ignore[no-any-return]


def failure(folder: Path) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        build_task(load_task(folder))
    return info.value


def assert_error(exc: SchemaError, path: Path, ptr: str, fragment: str) -> None:
    assert (exc.path, exc.pointer) == (path, ptr), str(exc)
    assert fragment in str(exc)


# -- the type translator ----------------------------------------------------------------------

TYPES_SOURCE = """
@dataclass
class Owner(InferenceType):
    items_: list[Inner]
    table: dict[str, list[int]] | None = None
    mode: Mode | None = None
    pick: Choice | None = None
    anything: Any | None = None
    nullable: str | None
    flag: bool | None = False

@dataclass
class Inner(InferenceType):
    name: str

Mode: TypeAlias = Literal['a', 'b']
Choice: TypeAlias = Inner | Mode | int
Result: TypeAlias = list[Choice]
"""


def test_type_table_reads_fields_and_aliases() -> None:
    table = TypeTable.from_source(TYPES_SOURCE)
    assert set(table.classes) == {"Owner", "Inner"}
    assert table.classes["Owner"]["items_"] == Field("list[Inner]", optional=False)
    assert table.classes["Owner"]["flag"] == Field("bool | None", optional=True)
    assert table.aliases["Mode"] == "Literal['a', 'b']"
    assert table.field("Owner", "items-") == table.classes["Owner"]["items_"]
    assert table.field("Owner", "missing") is None


@pytest.mark.parametrize(
    ("field", "argument"),
    [
        ("items_", "Sequence[Inner | Mapping[str, Any]]"),
        ("table", "Mapping[str, Sequence[int]]"),
        ("mode", "Mode"),  # enum aliases keep their name
        ("pick", "Inner | Mapping[str, Any] | Mode | int"),  # other aliases are expanded
        ("anything", "Any"),
        ("nullable", "str | None"),  # required but nullable: None is part of the type
        ("flag", "bool"),  # the binding adds None (or not, with a non-None default)
    ],
)
def test_argument_annotations_derive_from_field_annotations(field: str, argument: str) -> None:
    table = TypeTable.from_source(TYPES_SOURCE)
    assert table.argument(table.classes["Owner"][field]) == argument


def test_result_annotations_expand_non_enum_aliases() -> None:
    table = TypeTable.from_source(TYPES_SOURCE)
    assert table.result("Result") == "list[Inner | Mode | int]"
    assert table.result("Mode") == "Mode"
    assert table.result("dict[str, Choice]") == "dict[str, Inner | Mode | int]"


def test_every_argument_annotation_comes_from_its_rendered_field(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    task = build_task(load_task(write(tmp_path, write_task, docs)))
    by_name = {a.name: a for a in task.arguments}
    assert by_name["stop"].field == ("WordCountParameters", "stop")
    assert by_name["stop"].annotation == "str | Sequence[str] | None"
    assert by_name["text"].field == ("WordCountInput", "inputs")
    assert by_name["model"].field is None


# -- "encode": "list" -------------------------------------------------------------------------


def test_encode_list_reaches_the_operation_and_the_check(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    files = build(write(tmp_path, write_task, docs).parent)
    block = files["operations.py"].split('            "stop",\n', 1)[1].split("        ),\n", 1)[0]
    assert 'encode="list",' in block
    assert 'check=Check(types=("str", "list"), item_types=("str",)' in block
    assert "        stop: str | Sequence[str] | None = None,\n" in files["client.py"]


def test_encode_list_needs_a_property_that_takes_one_or_many(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    docs["binding"]["arguments"][2]["encode"] = "list"  # lowercase: a boolean
    folder = write(tmp_path, write_task, docs)
    assert_error(failure(folder), folder / "binding.json", "/arguments/2/encode", '"list" needs')


def test_unknown_encoding(tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]) -> None:
    docs["binding"]["arguments"][3]["encode"] = "tuple"
    folder = write(tmp_path, write_task, docs)
    assert_error(failure(folder), folder / "binding.json", "/arguments/3/encode", "got 'tuple'")


# -- aliases ----------------------------------------------------------------------------------


def test_alias_gives_namespaces_and_a_property(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    docs["binding"]["alias"] = "words.count_them"
    files = build(write(tmp_path, write_task, docs).parent)
    for name in ("client.py", "async_client.py"):
        source = files[name]
        client = "AsyncInferenceClient" if name.startswith("async") else "InferenceClient"
        assert "    @property\n    def words(self) -> _Words:\n" in source
        assert "        return _Words(self)\n" in source
        assert "class _Words:\n" in source
        assert f"    def __init__(self, client: {client}) -> None:\n" in source
        assert "        self.count_them = client.word_count\n" in source
        assert "Also reachable as `client.words.count_them`" in source
        compile(source, name, "exec")


@pytest.mark.parametrize(
    ("alias", "fragment"),
    [
        ("count", "dotted snake_case identifiers"),
        ("Words.count", "dotted snake_case identifiers"),
        ("words..count", "dotted snake_case identifiers"),
        ("class.count", "dotted snake_case identifiers"),
        (7, "must be a string"),
    ],
)
def test_bad_alias(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]], alias: Any, fragment: str
) -> None:
    docs["binding"]["alias"] = alias
    folder = write(tmp_path, write_task, docs)
    assert_error(failure(folder), folder / "binding.json", "/alias", fragment)


def test_alias_must_not_start_with_a_method_name(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    docs["binding"]["alias"] = "word_count.again"
    folder = write(tmp_path, write_task, docs)
    with pytest.raises(SchemaError) as info:
        build(folder.parent)
    assert_error(info.value, folder / "binding.json", "/alias", "starts with the method name")


def test_aliases_of_two_tasks_must_not_collide(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    docs["binding"]["alias"] = "words.count"
    write(tmp_path, write_task, docs)
    other = copy.deepcopy(docs)
    other["input"]["title"] = "WordTallyInput"
    other["output"]["title"] = "WordTallyOutput"
    params = other["input"]["$defs"].pop("WordCountParameters")
    params["title"] = "WordTallyParameters"
    other["input"]["$defs"]["WordTallyParameters"] = params
    other["input"]["properties"]["parameters"]["$ref"] = "#/$defs/WordTallyParameters"
    other["binding"].update(method="word_tally", alias="words.count.fast")
    other["binding"]["response"]["type"] = "WordTallyOutput"
    folder = write_task(tmp_path / "schemas", "word-tally", **other)
    with pytest.raises(SchemaError) as info:
        build(folder.parent)
    assert_error(
        info.value, folder / "binding.json", "/alias", "collides with 'words.count' of word-count"
    )


# -- other rules ------------------------------------------------------------------------------


def test_property_named_like_a_dict_method_is_rejected(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    docs["output"]["properties"]["items"] = {"type": "integer", "description": "Items."}
    folder = write(tmp_path, write_task, docs)
    assert_error(
        failure(folder), folder / "output.json", "/properties/items", "hide the dict method"
    )


def test_object_response_needs_a_type(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    del docs["binding"]["response"]["type"]
    folder = write(tmp_path, write_task, docs)
    assert_error(failure(folder), folder / "binding.json", "/response/type", "must name its `type`")


def test_docstring_raises_section(
    tmp_path: Path, write_task: Any, docs: dict[str, dict[str, Any]]
) -> None:
    files = build(write(tmp_path, write_task, docs).parent)
    doc = files["client.py"].split("def word_count(", 1)[1].split('"""', 2)[1]
    raises = doc.split("        Raises:\n", 1)[1].splitlines()
    names = [line.strip().split(":", 1)[0] for line in raises if line.strip()]
    assert names == [
        "InferenceInputError",
        "InferenceRequestError",
        "HfHubHTTPError",
        "InferenceTimeoutError",
        "InferenceConnectionError",
        "InferenceDecodeError",
    ]
    assert "`BadRequestError` for 400" in doc
