"""The generator's pipeline: load → model → render types and clients → format."""

from __future__ import annotations

import re
from pathlib import Path

from codegen.errors import SchemaError
from codegen.format import format_source
from codegen.load import load_task, task_folders
from codegen.model import Task, build_task
from codegen.render_client import header, render_sources
from codegen.render_types import render_types

_DEFINED = re.compile(r"^(?:class (\w+)\b|(\w+): TypeAlias\b)", re.MULTILINE)


def build(schemas_dir: Path) -> dict[str, str]:
    """Every generated file (relative path → content) for the schemas in `schemas_dir`."""
    tasks: list[Task] = []
    sources: dict[str, str] = {}
    type_modules: dict[str, list[str]] = {}
    methods: dict[str, str] = {}
    for folder in task_folders(schemas_dir):
        raw = load_task(folder)
        task = build_task(raw)
        if task.method in methods:
            raise SchemaError(
                folder / "binding.json",
                "/method",
                f"method {task.method!r} is also bound by {methods[task.method]}",
            )
        methods[task.method] = task.task
        tasks.append(task)
        body = render_types(raw)
        names = sorted(a or b for a, b in _DEFINED.findall(body))
        type_modules[task.module] = names
        doc = f'"""Types of the {task.task} task."""\n\n'
        sources[f"types/{task.module}.py"] = (
            f"{header(task.sources[1:] or task.sources)}\n{doc}{body}"
        )
    if not tasks:
        raise SchemaError(schemas_dir, "/", "no task folders found")
    sources.update(render_sources(tasks, type_modules))
    return {rel: format_source(src, rel) for rel, src in sorted(sources.items())}
