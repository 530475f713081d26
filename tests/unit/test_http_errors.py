"""Error responses → typed errors with the server's message, status and request id."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from hfinfer import (
    AsyncInferenceClient,
    BadRequestError,
    HfHubHTTPError,
    InferenceClient,
    TextGenerationError,
    UnknownError,
    ValidationError,
)
from hfinfer._http_errors import http_error, parse_body, request_id, server_message
from hfinfer.errors import GenerationError, IncompleteGenerationError, OverloadedError

URL = "http://127.0.0.1:8080/models/org/m"


def response(
    status: int, body: Any = None, *, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, bytes]:
    if body is None:
        content = b""
    elif isinstance(body, bytes):
        content = body
    elif isinstance(body, str):
        content = body.encode()
    else:
        content = json.dumps(body).encode()
    resp = httpx.Response(
        status, headers=headers or {}, content=content, request=httpx.Request("POST", URL)
    )
    return resp, content


def error_for(status: int, body: Any = None, **kwargs: Any) -> HfHubHTTPError:
    headers = kwargs.pop("headers", None)
    resp, content = response(status, body, headers=headers)
    return http_error(resp, content, **kwargs)


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({"error": "Input is too long"}, None, "Input is too long"),
        ({"error": ["first problem", "second problem"]}, None, "first problem\nsecond problem"),
        ({"error": {"message": "m", "type": "t"}}, None, "m"),
        (
            {"errors": [{"message": "bad top_k"}, {"message": "bad seed"}]},
            None,
            "bad top_k\nbad seed",
        ),
        ({"message": "from message"}, None, "from message"),
        ({"detail": "from detail"}, None, "from detail"),
        ({"detail": [{"loc": ["body", "x"], "msg": "field required"}]}, None, "field required"),
        ({"error": "Input is too long", "error_type": "validation"}, None, "Input is too long"),
        ("plain text problem", None, "plain text problem"),
        ("  line one\nline two  \n", None, "line one\nline two"),
        (None, {"X-Error-Message": "from header"}, "from header"),
        ({"error": "from body"}, {"X-Error-Message": "from header"}, "from header\nfrom body"),
        ({"error": "same"}, {"X-Error-Message": "same"}, "same"),  # de-duplicated
        (["a", {"message": "b"}], None, "a\nb"),
    ],
)  # fmt: skip
def test_server_message(body: Any, headers: dict[str, str] | None, expected: str) -> None:
    error = error_for(400, body, headers=headers)
    assert error.server_message == expected
    assert str(error).endswith("\n" + expected)


@pytest.mark.parametrize(
    "body",
    [
        "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
        "  <html><head><title>Oops</title></head></html>",
        "<HTML>upper</HTML>",
        None,
        "   \n",
    ],
)
def test_html_or_empty_body_gives_no_server_message(body: str | None) -> None:
    error = error_for(502, body)
    assert error.server_message is None
    assert str(error) == f"502 Bad Gateway for POST {URL}"


def test_first_line_has_status_reason_method_url_and_request_id() -> None:
    error = error_for(400, {"error": "boom"}, headers={"x-request-id": "req-42"})
    assert str(error) == f"400 Bad Request for POST {URL} (Request ID: req-42)\nboom"
    assert error.request_id == "req-42"
    assert error.status_code == 400
    assert error.body == {"error": "boom"}
    assert isinstance(error, BadRequestError)
    assert isinstance(error, ValueError)
    assert isinstance(error, httpx.HTTPStatusError)
    assert error.response.status_code == 400
    assert error.request.url == URL


def test_request_id_falls_back_to_amzn_trace_id() -> None:
    resp, _ = response(500, headers={"x-amzn-trace-id": "Root=1-abc"})
    assert request_id(resp) == "Root=1-abc"
    resp, _ = response(500, headers={"x-request-id": "r1", "x-amzn-trace-id": "Root=1-abc"})
    assert request_id(resp) == "r1"
    resp, _ = response(500)
    assert request_id(resp) is None


def test_422_hint_names_the_task() -> None:
    error = error_for(422, {"error": "unprocessable"}, task="fill-mask")
    assert str(error) == (
        f"422 Unprocessable Entity for POST {URL}\nunprocessable\n"
        "Make sure 'fill-mask' task is supported by the model."
    )
    assert not isinstance(error, BadRequestError)


def test_422_without_task_has_no_hint() -> None:
    assert "Make sure" not in str(error_for(422, {"error": "x"}))


def test_attempts_are_reported() -> None:
    error = error_for(503, {"error": "down"}, attempts=3)
    assert str(error).endswith("\n(after 3 attempts)")
    assert error.attempts == 3
    assert "attempts" not in str(error_for(503, {"error": "down"}, attempts=1))


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 503])
def test_other_statuses_are_plain_http_errors(status: int) -> None:
    error = error_for(status, {"error": "x"})
    assert type(error) is HfHubHTTPError
    assert error.status_code == status


@pytest.mark.parametrize(
    ("error_type", "cls"),
    [
        ("validation", ValidationError),
        ("generation", GenerationError),
        ("overloaded", OverloadedError),
        ("incomplete_generation", IncompleteGenerationError),
        ("something_new", UnknownError),
    ],
)
def test_text_generation_error_types(error_type: str, cls: type[TextGenerationError]) -> None:
    error = error_for(
        422, {"error": "Input validation error", "error_type": error_type}, errors="text-generation"
    )
    assert type(error) is cls
    assert error.server_message == "Input validation error"
    # Without the text-generation mapping, error_type is ignored.
    assert type(error_for(422, {"error": "x", "error_type": error_type})) is HfHubHTTPError


def test_long_message_is_truncated() -> None:
    error = error_for(400, {"error": "x" * 5000})
    assert error.server_message == "x" * 2000 + "…"


def test_parse_body() -> None:
    assert parse_body(b"") is None
    assert parse_body(b'{"a": 1}') == {"a": 1}
    assert parse_body(b"[1, 2]") == [1, 2]
    assert parse_body(b"not json") == "not json"
    assert parse_body(b"\xff\xfe") == "\ufffd\ufffd"


def test_server_message_function_directly() -> None:
    resp, _ = response(400)
    assert server_message(resp, None) is None
    assert server_message(resp, {"unrelated": 1}) is None
    assert server_message(resp, {"error": {"code": 7}}) == '{"code": 7}'


# -- end to end through the clients ---------------------------------------------------------------


@respx.mock
def test_bad_request_sync() -> None:
    route = respx.post(URL).respond(
        400,
        json={"error": "top_k must be strictly positive"},
        headers={"x-request-id": "rid-sync"},
    )
    client = InferenceClient(token=False, max_retries=0)
    with pytest.raises(BadRequestError) as info:
        client.text_classification("hello", model=URL, top_k=5)
    assert route.call_count == 1
    error = info.value
    text = str(error)
    assert text.startswith(f"400 Bad Request for POST {URL}")
    assert "top_k must be strictly positive" in text
    assert "rid-sync" in text
    assert error.status_code == 400
    assert error.server_message == "top_k must be strictly positive"
    assert error.request_id == "rid-sync"
    assert error.body == {"error": "top_k must be strictly positive"}


async def test_bad_request_async() -> None:
    with respx.mock:
        route = respx.post(URL).respond(
            400,
            json={"error": ["bad input", "really bad"]},
            headers={"x-request-id": "rid-async"},
        )
        async with AsyncInferenceClient(token=False, max_retries=0) as client:
            with pytest.raises(BadRequestError) as info:
                await client.text_classification("hello", model=URL)
    assert route.call_count == 1
    text = str(info.value)
    assert "400" in text
    assert "bad input\nreally bad" in text
    assert "rid-async" in text
    assert info.value.request_id == "rid-async"


@respx.mock
def test_422_hint_through_client() -> None:
    respx.post(URL).respond(422, json={"error": "unsupported"})
    client = InferenceClient(URL, token=False, max_retries=0)
    with pytest.raises(HfHubHTTPError) as info:
        client.fill_mask("Paris is the [MASK] of France.")
    assert str(info.value).endswith("Make sure 'fill-mask' task is supported by the model.")


@respx.mock
def test_text_generation_error_mapping_through_client() -> None:
    respx.post(URL).respond(
        424, json={"error": "Request failed during generation", "error_type": "generation"}
    )
    client = InferenceClient(URL, token=False, max_retries=0)
    with pytest.raises(GenerationError) as info:
        client.text_generation("Hello")
    assert info.value.status_code == 424
    assert info.value.server_message == "Request failed during generation"
