"""HTTP error responses → typed errors carrying the server's message, status and request id."""

from __future__ import annotations

import json
from typing import Any

import httpx

from hfinfer.errors import (
    TEXT_GENERATION_ERRORS,
    BadRequestError,
    HfHubHTTPError,
    TextGenerationError,
    UnknownError,
)

ERROR_BODY_LIMIT = 64 * 1024
_MESSAGE_LIMIT = 2000


def parse_body(content: bytes) -> Any:
    """The error body as JSON when it is JSON, else as text (None when empty)."""
    if not content:
        return None
    try:
        return json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return content.decode("utf-8", "replace")


def _messages(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [m for item in value for m in _messages(item)]
    if isinstance(value, dict):
        for key in ("message", "msg", "error", "detail"):
            if key in value:
                return _messages(value[key])
        return [json.dumps(value)]
    return [str(value)]


def server_message(response: httpx.Response, body: Any) -> str | None:
    """`X-Error-Message`, then the body's `error` (string, list or object), `errors`, `message`,
    `detail`, or a non-HTML text body. Lines de-duplicated, in order."""
    lines: list[str] = []
    header = response.headers.get("x-error-message")
    if header:
        lines.append(header)
    if isinstance(body, dict):
        for key in ("error", "errors", "message", "detail"):
            lines.extend(_messages(body.get(key)))
    elif isinstance(body, list):
        lines.extend(_messages(body))
    elif (
        isinstance(body, str)
        and body.strip()
        and not body.lstrip().lower().startswith(("<!doctype", "<html"))
    ):
        lines.append(body)
    seen: list[str] = []
    for line in (line.strip() for text in lines for line in text.splitlines()):
        if line and line not in seen:
            seen.append(line)
    if not seen:
        return None
    text = "\n".join(seen)
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "…"


def request_id(response: httpx.Response) -> str | None:
    value = response.headers.get("x-request-id") or response.headers.get("x-amzn-trace-id")
    return str(value) if value else None


def http_error(
    response: httpx.Response,
    content: bytes,
    *,
    task: str | None = None,
    errors: str | None = None,
    attempts: int = 1,
    notes: list[str] | tuple[str, ...] = (),
    retry_after: float | None = None,
) -> HfHubHTTPError:
    """The typed error for an error response whose (bounded) body is `content`."""
    body = parse_body(content)
    message = server_message(response, body)
    rid = request_id(response)
    request = response.request
    first = f"{response.status_code} {response.reason_phrase or 'Error'} for {request.method} {request.url}"
    if rid:
        first += f" (Request ID: {rid})"
    text = first + (f"\n{message}" if message else "")
    if response.status_code == 422 and task:
        text += f"\nMake sure '{task}' task is supported by the model."
    for note in notes:
        text += f"\n{note}"
    if attempts > 1:
        text += f"\n(after {attempts} attempts)"
    cls: type[HfHubHTTPError] = BadRequestError if response.status_code == 400 else HfHubHTTPError
    if errors == "text-generation" and isinstance(body, dict) and body.get("error_type"):
        cls = TEXT_GENERATION_ERRORS.get(str(body["error_type"]), UnknownError)
    return cls(
        text,
        response=response,
        server_message=message,
        request_id=rid,
        body=body,
        attempts=attempts,
        retry_after=retry_after,
    )


def stream_error(response: httpx.Response, payload: dict[str, Any]) -> TextGenerationError:
    """A typed error for an error event inside a stream (TGI sends these with status 200)."""
    kind = str(payload.get("error_type") or "")
    cls = TEXT_GENERATION_ERRORS.get(kind, UnknownError)
    message = "\n".join(_messages(payload.get("error"))) or "unknown error"
    rid = request_id(response)
    text = f"Error in stream from {response.request.url}" + (f" (Request ID: {rid})" if rid else "")
    text += f": {message}" + (f" (error_type: {kind})" if kind else "")
    return cls(text, response=response, server_message=message, request_id=rid, body=payload)
