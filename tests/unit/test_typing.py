"""What a type checker sees: the clients' context managers keep the generated task methods, the
`chat.completions.create` alias is typed as `chat_completion`, and every argument accepts the
values of the dataclass field it stands for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from codegen.binding import build_task
from codegen.load import load_task, task_folders
from codegen.render_types import render_types
from codegen.schema_types import TypeTable

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = """\
from hfinfer import AsyncInferenceClient, InferenceClient, TextClassificationOutputElement


def sync_use() -> list[TextClassificationOutputElement]:
    with InferenceClient("http://127.0.0.1:1", token=False) as client:
        return client.text_classification("x")


async def async_use() -> list[TextClassificationOutputElement]:
    async with AsyncInferenceClient("http://127.0.0.1:1", token=False) as client:
        return await client.text_classification("x")


def plain_use() -> list[TextClassificationOutputElement]:
    return InferenceClient(token=False).text_classification("x")
"""


def package_tree(tmp_path: Path) -> Path:
    """hfinfer laid out as the wheel installs it (generated/ inside as hfinfer._generated).

    mypy cannot follow the editable install's path mapping, so it reads this copy instead.
    """
    tree = tmp_path / "site"
    shutil.copytree(ROOT / "src" / "hfinfer", tree / "hfinfer")
    shutil.copytree(ROOT / "generated", tree / "hfinfer" / "_generated")
    return tree


def run_mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "usage.py"
    path.write_text(source, encoding="utf-8")
    env = {**os.environ, "MYPYPATH": str(package_tree(tmp_path))}
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / ".mypy_cache"),
         str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )  # fmt: skip


def test_plain_client_methods_are_typed(tmp_path: Path) -> None:
    plain = SNIPPET.split("def sync_use")[0] + "def plain_use" + SNIPPET.split("def plain_use")[1]
    result = run_mypy(tmp_path, plain)
    assert result.returncode == 0, result.stdout


def test_context_managers_return_the_generated_client_type(tmp_path: Path) -> None:
    result = run_mypy(tmp_path, SNIPPET)
    assert result.returncode == 0, result.stdout


ALIAS_SNIPPET = """\
from typing_extensions import assert_type

from hfinfer import (
    AsyncInferenceClient, AsyncStream, ChatCompletionOutput, ChatCompletionStreamOutput,
    InferenceClient, Stream,
)

MESSAGES = [{"role": "user", "content": "Hi"}]


def sync_use(client: InferenceClient) -> None:
    assert_type(client.chat.completions.create(MESSAGES), ChatCompletionOutput)
    assert_type(client.chat.completions.create(MESSAGES, stream=False), ChatCompletionOutput)
    assert_type(
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True, stop="x"),
        Stream[ChatCompletionStreamOutput],
    )


async def async_use(client: AsyncInferenceClient) -> None:
    assert_type(await client.chat.completions.create(MESSAGES), ChatCompletionOutput)
    assert_type(
        await client.chat.completions.create(model="m", messages=MESSAGES, stream=True),
        AsyncStream[ChatCompletionStreamOutput],
    )


def wrong_use(client: InferenceClient) -> None:
    client.chat.completions.create(MESSAGES, temperature="hot")  # an error, not Any
"""


def test_chat_completions_create_is_typed_as_chat_completion(tmp_path: Path) -> None:
    result = run_mypy(tmp_path, ALIAS_SNIPPET)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stdout
    wrong = next(i for i, line in enumerate(ALIAS_SNIPPET.splitlines(), 1) if '"hot"' in line)
    assert errors[0].startswith(f"usage.py:{wrong}: error: No overload variant matches"), errors


def agreement_snippet() -> tuple[str, int]:
    """One function per argument bound to a dataclass field, passing it the field's value."""
    imports: list[str] = []
    functions: list[str] = []
    for folder in task_folders(ROOT / "schemas"):
        raw = load_task(folder)
        task = build_task(raw, TypeTable.from_source(render_types(raw)))
        required = [a.name for a in task.arguments if a.positional and a.default is None]
        for arg in task.arguments:
            if arg.field is None:
                continue
            owner, field = arg.field
            imports.append(f"from hfinfer._generated.types.{task.module} import {owner}")
            others = "".join(f"{n}=cast(Any, None), " for n in required if n != arg.name)
            functions.append(
                f"def {task.method}__{arg.name}(client: InferenceClient, owner: {owner}) -> None:\n"
                f"    value = owner.{field}\n"
                f"    if value is not None:\n"
                f"        client.{task.method}({others}{arg.name}=value)\n"
            )
    head = "from typing import Any, cast\n\nfrom hfinfer import InferenceClient\n"
    source = head + "\n".join(sorted(set(imports))) + "\n\n\n" + "\n\n".join(functions)
    return source, len(functions)


def test_every_argument_accepts_its_dataclass_fields_values(tmp_path: Path) -> None:
    """Argument annotations are derived from the rendered field annotations (codegen's
    schema_types.py); this checks the outcome: a value of the field's type is a valid argument."""
    source, count = agreement_snippet()
    assert count > 130
    result = run_mypy(tmp_path, source)
    assert result.returncode == 0, result.stdout
