"""hfinfer: typed sync and async clients for Hugging Face-style inference servers.

    from hfinfer import InferenceClient
    client = InferenceClient("http://127.0.0.1:8080")
    client.chat_completion([{"role": "user", "content": "Hello"}], max_tokens=16)

The clients and the types are generated from `schemas/` (see the README); this package is the
thin runtime they call into. Importing it never imports numpy or Pillow.
"""

from hfinfer._generated.async_client import AsyncInferenceClient
from hfinfer._generated.client import InferenceClient
from hfinfer._generated.types import *  # noqa: F403
from hfinfer._generated.types import __all__ as _types_all
from hfinfer._legacy import InferenceApi
from hfinfer._model import InferenceType
from hfinfer._status import ModelStatus
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
    "InferenceTimeoutError",
    "InferenceType",
    "LocalTokenNotFoundError",
    "ModelStatus",
    "OverloadedError",
    "Stream",
    "TextGenerationError",
    "UnknownError",
    "ValidationError",
    "__version__",
    *_types_all,
]
