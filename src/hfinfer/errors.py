"""Every error hfinfer raises, one hierarchy for the sync and the async client.

HTTP errors subclass `httpx.HTTPStatusError` and carry the status, the server's own message, the
request id and the body. Nothing here ever includes a credential.
"""

from __future__ import annotations

from typing import Any

import httpx


class InferenceError(Exception):
    """Base of every error hfinfer raises."""


class InferenceInputError(InferenceError, ValueError):
    """An argument is invalid; raised before any request is sent."""

    def __init__(self, method: str, parameter: str, message: str) -> None:
        self.method = method
        self.parameter = parameter
        super().__init__(f"{method}(): `{parameter}` {message}")


class InferenceProviderError(InferenceError, ValueError):
    """No provider can serve the call as asked: the model is not mapped to the provider, the
    provider lacks the task, or the key cannot go there. Raised before the inference request."""

    def __init__(
        self, message: str, *, model: str | None, provider: str | None, supported: tuple[str, ...]
    ) -> None:
        self.model = model
        self.provider = provider
        self.supported = supported
        """What the provider (or the model's mapping) does support."""
        super().__init__(message)


class InferenceConnectionError(InferenceError, ConnectionError):
    """The server could not be reached or dropped the connection."""

    def __init__(
        self, message: str, *, request: httpx.Request | None = None, attempts: int = 1
    ) -> None:
        self.request = request
        self.attempts = attempts
        super().__init__(message)


class InferenceRequestError(InferenceError, ValueError):
    """The request could not be framed as valid HTTP (e.g. a newline in a header); never sent."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        self.request = request
        self.attempts = 1
        super().__init__(message)


class InferenceTimeoutError(InferenceError, TimeoutError):
    """The model was not available in time, or the request timed out."""

    def __init__(
        self,
        message: str,
        *,
        request: httpx.Request | None = None,
        response: httpx.Response | None = None,
        attempts: int = 1,
    ) -> None:
        self.request = request
        self.response = response
        self.attempts = attempts
        super().__init__(message)


class InferenceJobError(InferenceError, RuntimeError, ValueError):
    """A provider's asynchronous job failed or reported a status hfinfer does not know.

    The message has the provider's own words when it gave any. A `ValueError` too, as the
    reference raises for most failed jobs; a job not done in time is `InferenceTimeoutError`."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        job_id: str | None,
        status: str | None,
        status_url: str | None,
        response: httpx.Response | None = None,
    ) -> None:
        self.provider = provider
        self.job_id = job_id
        self.status = status
        self.status_url = status_url
        self.response = response
        super().__init__(message)


class InferenceDecodeError(InferenceError, ValueError):
    """The server answered with a success status but a body that cannot be decoded."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        self.response = response
        super().__init__(message)


class HfHubHTTPError(InferenceError, httpx.HTTPStatusError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        server_message: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        httpx.HTTPStatusError.__init__(self, message, request=response.request, response=response)
        self.status_code = response.status_code
        self.server_message = server_message
        self.request_id = request_id
        self.body = body
        self.attempts = attempts
        self.retry_after = retry_after
        """Seconds the server asked to wait before retrying (`Retry-After`), when it said."""


class BadRequestError(HfHubHTTPError, ValueError):
    """HTTP 400: the server rejected the request."""


class TextGenerationError(HfHubHTTPError):
    """The text-generation server reported an error (TGI `error_type`)."""


class ValidationError(TextGenerationError):
    """The server rejected the generation parameters."""


class GenerationError(TextGenerationError):
    """The generation failed on the server."""


class OverloadedError(TextGenerationError):
    """The server is overloaded."""


class IncompleteGenerationError(TextGenerationError):
    """The generation stopped before completion."""


class UnknownError(TextGenerationError):
    """The server reported an error of an unknown kind."""


TEXT_GENERATION_ERRORS: dict[str, type[TextGenerationError]] = {
    "validation": ValidationError,
    "generation": GenerationError,
    "overloaded": OverloadedError,
    "incomplete_generation": IncompleteGenerationError,
}


class LocalTokenNotFoundError(InferenceError, EnvironmentError):
    """`token=True` was given but no token is saved locally."""
