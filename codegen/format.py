"""Stage 5: format generated sources with the pinned ruff, so output is byte-identical everywhere."""

from __future__ import annotations

import subprocess

from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

# Settings are passed explicitly (--isolated) so a user's ruff config never changes the output.
# hfinfer is first-party wherever the generated files are formatted (hfinfer._generated is mapped
# from generated/, so ruff could not find it under src/ to tell).
_COMMON = ["--isolated", "--line-length", "100", "--target-version", "py310",
           "--config", "lint.isort.known-first-party = ['hfinfer']"]  # fmt: skip


def format_source(source: str, filename: str) -> str:
    """Sort imports, drop unused ones, then `ruff format`; raises on a syntax error."""
    ruff = find_ruff_bin()
    fixed = _run([ruff, "check", *_COMMON, "--select", "I,F401", "--fix-only", "--exit-zero",
                  "--stdin-filename", filename, "-"], source)  # fmt: skip
    return _run([ruff, "format", *_COMMON, "--stdin-filename", filename, "-"], fixed)


def _run(command: list[str], source: str) -> str:
    result = subprocess.run(command, input=source, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ruff failed on generated code:\n{result.stderr}")
    return result.stdout
