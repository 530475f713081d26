"""The generator's pipeline: load → render types → model → render clients → format.

Types come first: the model reads each task's argument and result annotations from the
dataclasses datamodel-code-generator rendered (see `schema_types.py`).
"""

from __future__ import annotations

from pathlib import Path

from codegen.binding import build_task, check_aliases
from codegen.errors import SchemaError
from codegen.format import format_source
from codegen.load import load_task, task_folders
from codegen.model import Task
from codegen.providers import build_providers, provider_files, render_providers, render_readme
from codegen.render_client import header, render_sources
from codegen.render_types import render_types
from codegen.schema_types import TypeTable


def build(schemas_dir: Path) -> dict[str, str]:
    """Every generated file (relative path → content) for the schemas in `schemas_dir`."""
    tasks: list[Task] = []
    sources: dict[str, str] = {}
    type_modules: dict[str, list[str]] = {}
    methods: dict[str, str] = {}
    folders = task_folders(schemas_dir)
    for folder in folders:
        raw = load_task(folder)
        body = render_types(raw)
        table = TypeTable.from_source(body)
        task = build_task(raw, table)
        if task.method in methods:
            raise SchemaError(
                folder / "binding.json",
                "/method",
                f"method {task.method!r} is also bound by {methods[task.method]}",
            )
        methods[task.method] = task.task
        tasks.append(task)
        type_modules[task.module] = sorted({*table.classes, *table.aliases})
        doc = f'"""Types of the {task.task} task."""\n\n'
        sources[f"types/{task.module}.py"] = (
            f"{header(task.sources[1:] or task.sources)}\n{doc}{body}"
        )
    if not tasks:
        raise SchemaError(schemas_dir, "/", "no task folders found")
    check_aliases(tasks, folders)
    sources.update(render_sources(tasks, type_modules))
    providers = build_providers(schemas_dir, tasks)
    origin = "schemas/providers/*.json" if provider_files(schemas_dir) else "no provider files"
    sources["providers.py"] = render_providers(providers, header([origin]))
    files = {rel: format_source(src, rel) for rel, src in sorted(sources.items())}
    readme = render_readme(schemas_dir.parent / "README.md", providers)
    if readme is not None:  # the provider × task table, between its markers
        files["../README.md"] = readme
    return files
