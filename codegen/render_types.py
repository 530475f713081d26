"""Stage 2: typed dataclasses for one task, rendered by datamodel-code-generator (as a library).

This is the project's one JSON Schema → Python type translator: the generated methods' argument
and result annotations are read back from what it renders (`schema_types.TypeTable`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from datamodel_code_generator import LiteralType, PythonVersion, generate
from datamodel_code_generator.enums import DataModelType, InputFileType

from codegen.load import RawTask

BASE_CLASS = "hfinfer._model.InferenceType"

_HEADER = re.compile(r"\A(#[^\n]*\n)+\n*")


def render_types(raw: RawTask) -> str:
    """Python source (unformatted, no header) of every class and alias of a task."""
    defs: dict[str, Any] = dict(raw.bundle["$defs"])
    root_name = raw.roots["input"]
    root = dict(defs.pop(root_name))
    root["$defs"] = defs
    source = generate(
        json.dumps(root, sort_keys=True),
        input_file_type=InputFileType.JsonSchema,
        output_model_type=DataModelType.DataclassesDataclass,
        target_python_version=PythonVersion.PY_310,
        base_class=BASE_CLASS,
        enum_field_as_literal=LiteralType.All,
        use_schema_description=True,
        use_field_description=True,
        use_standard_collections=True,
        use_union_operator=True,
        use_title_as_name=True,
        disable_timestamp=True,
        formatters=[],
        class_name=root_name,
    )
    if not isinstance(source, str):  # pragma: no cover - only for multi-module output
        raise TypeError("datamodel-code-generator returned several modules for one task")
    return _HEADER.sub("", source)
