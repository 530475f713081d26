"""`python -m codegen check|generate` on temporary copies of schemas/ and generated/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check(capsys: pytest.CaptureFixture[str], schemas: Path, out: Path) -> tuple[int, str, str]:
    return run_cli(capsys, "check", "--schemas", str(schemas), "--out", str(out))


def all_files(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_check_passes_on_pristine_copy_subprocess(repo_copy: tuple[Path, Path]) -> None:
    schemas, generated = repo_copy
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "codegen",
            "check",
            "--schemas",
            str(schemas),
            "--out",
            str(generated),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("generated/ is up to date (")
    assert result.stderr == ""


def test_check_fails_when_schema_changed_without_regeneration(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    path = schemas / "text-classification" / "input.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["properties"]["inputs"]["description"] = "The text to classify, edited in the schema."
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    code, _, err = check(capsys, schemas, generated)

    assert code == 1
    assert "out of date" in err
    problems = [line.strip() for line in err.splitlines()[1:]]
    # The description is a field docstring and a method docstring: both files differ.
    assert "differs: types/text_classification.py" in problems
    assert "differs: client.py" in problems
    assert "differs: async_client.py" in problems
    # Nothing unrelated is reported.
    assert all(p.startswith("differs: ") for p in problems)
    assert "differs: types/text_generation.py" not in problems


def test_check_fails_when_generated_file_edited_by_hand(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    path = generated / "types" / "fill_mask.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nHAND_EDIT = 1\n", encoding="utf-8")

    code, _, err = check(capsys, schemas, generated)

    assert code == 1
    problems = [line.strip() for line in err.splitlines()[1:]]
    assert problems == ["differs: types/fill_mask.py"]


def test_check_fails_listing_a_missing_file(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    (generated / "operations.py").unlink()

    code, _, err = check(capsys, schemas, generated)

    assert code == 1
    problems = [line.strip() for line in err.splitlines()[1:]]
    assert problems == ["missing: operations.py"]


def test_check_fails_listing_a_stale_file(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    # A generated module whose schema folder was removed: it still carries the generator header.
    stale = generated / "types" / "old_task.py"
    header = (generated / "types" / "fill_mask.py").read_text(encoding="utf-8").splitlines()[0]
    stale.write_text(f"{header}\nX = 1\n", encoding="utf-8")

    code, _, err = check(capsys, schemas, generated)

    assert code == 1
    problems = [line.strip() for line in err.splitlines()[1:]]
    assert problems == ["stale: types/old_task.py"]


def test_check_fails_when_a_task_folder_is_removed(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    for path in sorted((schemas / "fill-mask").iterdir()):
        path.unlink()
    (schemas / "fill-mask").rmdir()
    # A provider file naming a task that no longer exists is an error: drop it there too.
    hf = schemas / "providers" / "hf-inference.json"
    data = json.loads(hf.read_text(encoding="utf-8"))
    del data["tasks"]["fill-mask"]
    hf.write_text(json.dumps(data), encoding="utf-8")

    code, _, err = check(capsys, schemas, generated)

    assert code == 1
    problems = [line.strip() for line in err.splitlines()[1:]]
    assert "stale: types/fill_mask.py" in problems
    assert "differs: client.py" in problems
    assert "differs: operations.py" in problems


def test_check_reports_schema_error_with_exit_code_2(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    path = schemas / "fill-mask" / "binding.json"
    path.write_text("{not json", encoding="utf-8")

    code, _, err = check(capsys, schemas, generated)

    assert code == 2
    assert err.startswith("error: ")
    assert str(path) in err
    assert "invalid JSON" in err


def test_generate_then_check_roundtrip(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    path = schemas / "text-classification" / "input.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["properties"]["inputs"]["description"] = "Edited description."
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")

    code, out, _ = run_cli(capsys, "generate", "--schemas", str(schemas), "--out", str(generated))
    assert code == 0
    changed = [line.strip() for line in out.splitlines()[1:]]
    assert sorted(changed) == ["async_client.py", "client.py", "types/text_classification.py"]
    assert "Edited description." in (generated / "types" / "text_classification.py").read_text()

    code, _, err = check(capsys, schemas, generated)
    assert code == 0, err


def test_generate_removes_stale_generated_files_only(
    repo_copy: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, generated = repo_copy
    header = (generated / "types" / "fill_mask.py").read_text(encoding="utf-8").splitlines()[0]
    stale = generated / "types" / "old_task.py"
    stale.write_text(f"{header}\nX = 1\n", encoding="utf-8")
    handwritten = generated / "types" / "notes.py"
    handwritten.write_text("# not generated\n", encoding="utf-8")

    code, out, _ = run_cli(capsys, "generate", "--schemas", str(schemas), "--out", str(generated))

    assert code == 0
    assert [line.strip() for line in out.splitlines()[1:]] == ["types/old_task.py"]
    assert not stale.exists()
    assert handwritten.read_text(encoding="utf-8") == "# not generated\n"


def test_generating_twice_is_byte_identical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    schemas = ROOT / "schemas"
    assert run_cli(capsys, "generate", "--schemas", str(schemas), "--out", str(first))[0] == 0
    assert run_cli(capsys, "generate", "--schemas", str(schemas), "--out", str(second))[0] == 0

    a, b = all_files(first), all_files(second)
    assert sorted(a) == sorted(b)
    assert len(a) > 30
    for rel in a:
        assert a[rel] == b[rel], rel
    # ...and identical to the committed generated/ directory.
    committed = all_files(ROOT / "generated")
    assert a == committed

    # A second generate into an up-to-date directory changes nothing.
    code, out, _ = run_cli(capsys, "generate", "--schemas", str(schemas), "--out", str(first))
    assert code == 0
    assert out.strip().endswith("0 changed")
