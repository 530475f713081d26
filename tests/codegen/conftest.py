"""Shared fixtures for the generator tests: temporary copies of schemas/ and generated/."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
GENERATED = ROOT / "generated"

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


@pytest.fixture
def repo_copy(tmp_path: Path) -> tuple[Path, Path]:
    """(schemas, generated): fresh copies of the project's directories in tmp_path."""
    schemas = tmp_path / "schemas"
    generated = tmp_path / "generated"
    shutil.copytree(SCHEMAS, schemas, ignore=_IGNORE)
    shutil.copytree(GENERATED, generated, ignore=_IGNORE)
    return schemas, generated


def dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


WriteTask = Callable[..., Path]


@pytest.fixture
def write_task() -> WriteTask:
    """Write a task folder (input/output/binding and optional extra files) under a schemas dir."""

    def write(
        schemas: Path,
        task: str,
        *,
        input: dict[str, Any],
        output: dict[str, Any],
        binding: dict[str, Any] | None,
        stream_output: dict[str, Any] | None = None,
    ) -> Path:
        folder = schemas / task
        folder.mkdir(parents=True, exist_ok=True)
        dump(folder / "input.json", input)
        dump(folder / "output.json", output)
        if binding is not None:
            dump(folder / "binding.json", binding)
        if stream_output is not None:
            dump(folder / "stream_output.json", stream_output)
        return folder

    return write


# -- a tiny task used by several tests ------------------------------------------------------------

WORD_COUNT_INPUT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "WordCountInput",
    "description": "Inputs for Word Count inference.",
    "type": "object",
    "properties": {
        "inputs": {"type": "string", "description": "The text whose words are counted."},
        "parameters": {"$ref": "#/$defs/WordCountParameters"},
    },
    "required": ["inputs"],
    "$defs": {
        "WordCountParameters": {
            "title": "WordCountParameters",
            "description": "Additional inference parameters for Word Count.",
            "type": "object",
            "properties": {
                "lowercase": {
                    "type": "boolean",
                    "description": "Lowercase the text before counting.",
                }
            },
        }
    },
}

WORD_COUNT_OUTPUT: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "WordCountOutput",
    "description": "Outputs of inference for the Word Count task.",
    "type": "object",
    "properties": {"count": {"type": "integer", "description": "The number of words."}},
    "required": ["count"],
}

WORD_COUNT_BINDING: dict[str, Any] = {
    "method": "word_count",
    "summary": "Count the words of a text.",
    "returns": "The number of words.",
    "route": "task",
    "body": "json",
    "arguments": [
        {"name": "text", "at": "inputs", "positional": True},
        {"name": "model"},
        {"name": "lowercase", "at": "parameters.lowercase"},
    ],
    "response": {"kind": "json", "shape": "instance", "type": "WordCountOutput"},
}


@pytest.fixture
def word_count() -> dict[str, dict[str, Any]]:
    """input/output/binding of a small task that does not exist in schemas/ (fresh copies)."""
    return copy.deepcopy(
        {"input": WORD_COUNT_INPUT, "output": WORD_COUNT_OUTPUT, "binding": WORD_COUNT_BINDING}
    )
