"""hfinfer: typed sync and async clients for Hugging Face-style inference servers.

    from hfinfer import InferenceClient
    client = InferenceClient("http://127.0.0.1:8080")
    client.chat_completion([{"role": "user", "content": "Hello"}], max_tokens=16)

The clients and the types are generated from `schemas/` (see the README); this package is the
thin runtime they call into. Importing it never imports numpy, Pillow or asyncio, and a task's
types are imported when first used (they are all listed in `__all__`).
"""

from typing import TYPE_CHECKING, Any

from hfinfer import _providers
from hfinfer._generated import types as _types
from hfinfer._generated.async_client import AsyncInferenceClient
from hfinfer._generated.client import InferenceClient
from hfinfer._generated.providers import PROVIDERS as _PROVIDERS
from hfinfer._generated.providers import Provider
from hfinfer._model import InferenceType
from hfinfer._streams import AsyncStream, Stream
from hfinfer._version import __version__
from hfinfer.errors import (
    BadRequestError,
    GenerationError,
    HfHubHTTPError,
    IncompleteGenerationError,
    InferenceConnectionError,
    InferenceDecodeError,
    InferenceError,
    InferenceInputError,
    InferenceJobError,
    InferenceProviderError,
    InferenceRequestError,
    InferenceTimeoutError,
    LocalTokenNotFoundError,
    OverloadedError,
    TextGenerationError,
    UnknownError,
    ValidationError,
)

__all__ = [
    "AsyncInferenceClient",
    "AsyncStream",
    "BadRequestError",
    "GenerationError",
    "HfHubHTTPError",
    "IncompleteGenerationError",
    "InferenceApi",
    "InferenceClient",
    "InferenceConnectionError",
    "InferenceDecodeError",
    "InferenceError",
    "InferenceInputError",
    "InferenceJobError",
    "InferenceProviderError",
    "InferenceRequestError",
    "InferenceTimeoutError",
    "InferenceType",
    "LocalTokenNotFoundError",
    "ModelStatus",
    "OverloadedError",
    "Provider",
    "Stream",
    "TextGenerationError",
    "UnknownError",
    "ValidationError",
    "__version__",
    *_types.__all__,
]

_providers.install(_PROVIDERS)  # the runtime reads the generated provider table

if TYPE_CHECKING:
    from hfinfer._generated.types import *  # noqa: F403
    from hfinfer._legacy import InferenceApi
    from hfinfer._status import ModelStatus


def __getattr__(name: str) -> Any:
    """The generated types, `ModelStatus` and the legacy `InferenceApi`, imported on first use."""
    if name == "InferenceApi":
        from hfinfer._legacy import InferenceApi

        return InferenceApi
    if name == "ModelStatus":
        from hfinfer._status import ModelStatus

        return ModelStatus
    if name in _types.__all__:
        return getattr(_types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
