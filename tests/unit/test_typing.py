"""What a type checker sees: the clients' context managers keep the generated task methods."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

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
