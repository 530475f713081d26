"""The model-loading wait (503) and retries with backoff, sync and async."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from hfinfer import (
    AsyncInferenceClient,
    BadRequestError,
    HfHubHTTPError,
    InferenceClient,
    InferenceConnectionError,
    InferenceInputError,
    InferenceTimeoutError,
)
from hfinfer._retry import MAX_LOADING_WAIT, backoff, is_model_loading, next_wait, retry_after

IE = "https://api-inference.huggingface.co"


@pytest.fixture(autouse=True)
def endpoint_routing(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint routing these tests are written against: with HF_INFERENCE_ENDPOINT set,
    provider=None keeps it byte for byte (a bare model id otherwise goes to Inference Providers)."""
    monkeypatch.setenv("HF_INFERENCE_ENDPOINT", IE)


HF_URL = f"{IE}/models/org/m"
LOCAL_URL = "http://127.0.0.1:8080"
LOADING = {"error": "Model org/m is currently loading", "estimated_time": 0.01}
LABELS = [[{"label": "POSITIVE", "score": 0.9}]]
EXPECTED = [{"label": "POSITIVE", "score": 0.9}]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the sync transport's sleeps instead of sleeping."""
    recorded: list[float] = []
    monkeypatch.setattr(time, "sleep", recorded.append)  # the module _sending sleeps with
    return recorded


def loading_then_ok() -> list[httpx.Response]:
    return [httpx.Response(503, json=LOADING), httpx.Response(200, json=LABELS)]


# -- model loading --------------------------------------------------------------------------------


@respx.mock
def test_loading_wait_then_success_on_default_endpoint(sleeps: list[float]) -> None:
    route = respx.post(HF_URL).mock(side_effect=loading_then_ok())
    client = InferenceClient("org/m", token=False, max_retries=0)
    assert client.text_classification("great") == EXPECTED
    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert "x-wait-for-model" not in first.headers
    assert second.headers["X-wait-for-model"] == "1"
    assert json.loads(second.content) == json.loads(first.content) == {"inputs": "great"}
    assert sleeps == [1.0]  # estimated_time is small: the wait is at least one second


@respx.mock
def test_loading_wait_other_host_has_no_wait_header(sleeps: list[float]) -> None:
    route = respx.post(LOCAL_URL).mock(side_effect=loading_then_ok())
    client = InferenceClient(LOCAL_URL, token=False, max_retries=0)
    assert client.text_classification("great") == EXPECTED
    assert route.call_count == 2
    assert "x-wait-for-model" not in route.calls[1].request.headers
    assert len(sleeps) == 1


@respx.mock
def test_loading_wait_is_capped(sleeps: list[float]) -> None:
    respx.post(HF_URL).mock(
        side_effect=[
            httpx.Response(503, json={"error": "loading", "estimated_time": 500.0}),
            httpx.Response(503, json={"error": "Model org/m is currently loading"}),
            httpx.Response(200, json=LABELS),
        ]
    )
    InferenceClient("org/m", token=False, max_retries=0).text_classification("great")
    assert sleeps == [MAX_LOADING_WAIT, 1.0]


async def test_loading_wait_then_success_async() -> None:
    with respx.mock:
        route = respx.post(HF_URL).mock(side_effect=loading_then_ok())
        async with AsyncInferenceClient("org/m", token=False, max_retries=0) as client:
            assert await client.text_classification("great") == EXPECTED
    assert route.call_count == 2
    assert "x-wait-for-model" not in route.calls[0].request.headers
    assert route.calls[1].request.headers["x-wait-for-model"] == "1"


@respx.mock
def test_loading_forever_with_timeout_raises_timeout_error() -> None:
    route = respx.post(HF_URL).respond(503, json=LOADING)
    client = InferenceClient("org/m", token=False, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(InferenceTimeoutError) as info:
        client.text_classification("great")
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 5
    assert route.call_count >= 2
    assert "Model not loaded" in str(info.value)
    assert "0.5" in str(info.value)
    assert isinstance(info.value, TimeoutError)


async def test_loading_forever_with_timeout_raises_timeout_error_async() -> None:
    with respx.mock:
        route = respx.post(HF_URL).respond(503, json=LOADING)
        async with AsyncInferenceClient("org/m", token=False, timeout=0.5) as client:
            with pytest.raises(InferenceTimeoutError):
                await client.text_classification("great")
    assert route.call_count >= 2


# -- retries --------------------------------------------------------------------------------------


@respx.mock
def test_retry_on_500_then_success(no_backoff: None) -> None:
    route = respx.post(LOCAL_URL).mock(
        side_effect=[
            httpx.Response(500, json={"error": "oops"}),
            httpx.Response(500, json={"error": "oops again"}),
            httpx.Response(200, json=LABELS),
        ]
    )
    client = InferenceClient(LOCAL_URL, token=False, max_retries=2)
    assert client.text_classification("great") == EXPECTED
    assert route.call_count == 3
    bodies = [json.loads(call.request.content) for call in route.calls]
    assert bodies == [{"inputs": "great"}] * 3


@respx.mock
def test_all_retries_fail_reports_attempts(no_backoff: None) -> None:
    route = respx.post(LOCAL_URL).respond(500, json={"error": "still broken"})
    client = InferenceClient(LOCAL_URL, token=False, max_retries=2)
    with pytest.raises(HfHubHTTPError) as info:
        client.text_classification("great")
    assert route.call_count == 3
    assert info.value.attempts == 3
    assert info.value.status_code == 500
    assert str(info.value).endswith("still broken\n(after 3 attempts)")


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
@respx.mock
def test_retryable_statuses(no_backoff: None, status: int) -> None:
    route = respx.post(LOCAL_URL).mock(
        side_effect=[httpx.Response(status, text="busy"), httpx.Response(200, json=LABELS)]
    )
    client = InferenceClient(LOCAL_URL, token=False, max_retries=1)
    assert client.text_classification("great") == EXPECTED
    assert route.call_count == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
@respx.mock
def test_client_errors_are_not_retried(no_backoff: None, status: int) -> None:
    route = respx.post(LOCAL_URL).respond(status, json={"error": "no"})
    client = InferenceClient(LOCAL_URL, token=False, max_retries=3)
    with pytest.raises(HfHubHTTPError) as info:
        client.text_classification("great")
    assert route.call_count == 1
    assert info.value.attempts == 1
    assert isinstance(info.value, BadRequestError) is (status == 400)


@respx.mock
def test_max_retries_zero_sends_once(no_backoff: None) -> None:
    route = respx.post(LOCAL_URL).respond(500, json={"error": "x"})
    with pytest.raises(HfHubHTTPError):
        InferenceClient(LOCAL_URL, token=False, max_retries=0).text_classification("great")
    assert route.call_count == 1


@respx.mock
def test_retry_after_header_is_honoured(sleeps: list[float]) -> None:
    respx.post(LOCAL_URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}, text="slow down"),
            httpx.Response(200, json=LABELS),
        ]
    )
    InferenceClient(LOCAL_URL, token=False, max_retries=1).text_classification("great")
    assert sleeps == [3.0]


@respx.mock
def test_connection_error_is_retried(no_backoff: None) -> None:
    route = respx.post(LOCAL_URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json=LABELS)]
    )
    client = InferenceClient(LOCAL_URL, token=False, max_retries=1)
    assert client.text_classification("great") == EXPECTED
    assert route.call_count == 2


@respx.mock
def test_connection_error_after_all_retries(no_backoff: None) -> None:
    route = respx.post(LOCAL_URL).mock(side_effect=httpx.ConnectError("refused"))
    client = InferenceClient(LOCAL_URL, token=False, max_retries=2)
    with pytest.raises(InferenceConnectionError) as info:
        client.text_classification("great")
    assert route.call_count == 3
    assert info.value.attempts == 3
    assert "after 3 attempt(s)" in str(info.value)


async def test_retry_on_500_then_success_async(no_backoff: None) -> None:
    with respx.mock:
        route = respx.post(LOCAL_URL).mock(
            side_effect=[httpx.Response(500, text="x"), httpx.Response(200, json=LABELS)]
        )
        async with AsyncInferenceClient(LOCAL_URL, token=False, max_retries=2) as client:
            assert await client.text_classification("great") == EXPECTED
    assert route.call_count == 2


async def test_all_retries_fail_async(no_backoff: None) -> None:
    with respx.mock:
        route = respx.post(LOCAL_URL).respond(502, json={"error": "bad gateway"})
        async with AsyncInferenceClient(LOCAL_URL, token=False, max_retries=2) as client:
            with pytest.raises(HfHubHTTPError) as info:
                await client.text_classification("great")
    assert route.call_count == 3
    assert info.value.attempts == 3
    assert "(after 3 attempts)" in str(info.value)


@respx.mock
def test_per_call_max_retries_overrides_the_client(no_backoff: None) -> None:
    route = respx.post(LOCAL_URL).respond(500, json={"error": "x"})
    client = InferenceClient(LOCAL_URL, token=False, max_retries=3)
    with pytest.raises(HfHubHTTPError) as info:
        client.text_classification("great", max_retries=0)
    assert route.call_count == 1 and info.value.attempts == 1
    with pytest.raises(HfHubHTTPError):
        client.post(json={"inputs": "x"}, max_retries=1)
    assert route.call_count == 3
    with pytest.raises(HfHubHTTPError) as info:
        client.text_classification("great")  # the client's own value again
    assert info.value.attempts == 4


async def test_per_call_max_retries_async(no_backoff: None) -> None:
    with respx.mock:
        route = respx.post(f"{LOCAL_URL}/v1/chat/completions").respond(503, text="busy")
        async with AsyncInferenceClient(LOCAL_URL, token=False, max_retries=0) as client:
            with pytest.raises(HfHubHTTPError) as info:
                await client.chat_completion([{"role": "user", "content": "hi"}], max_retries=2)
    assert route.call_count == 3 and info.value.attempts == 3


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True])
@respx.mock(assert_all_called=False)
def test_per_call_max_retries_is_checked_before_sending(bad: Any) -> None:
    route = respx.post(LOCAL_URL).respond(200, json=LABELS)
    client = InferenceClient(LOCAL_URL, token=False)
    with pytest.raises(InferenceInputError, match="`max_retries` must be None or an integer"):
        client.text_classification("great", max_retries=bad)
    assert route.call_count == 0


@respx.mock
def test_each_retry_is_logged_at_info(no_backoff: None, caplog: pytest.LogCaptureFixture) -> None:
    respx.post(LOCAL_URL).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(502, text="bad gateway"),
            httpx.Response(200, json=LABELS),
        ]
    )
    with caplog.at_level("INFO", logger="hfinfer"):
        InferenceClient(LOCAL_URL, token=False, max_retries=2).text_classification("great")
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert "retry 1 of 2 for POST" in retries[0] and "ConnectError" in retries[0]
    assert "retry 2 of 2 for POST" in retries[1] and "HTTP 502" in retries[1]


# -- the pure decisions ---------------------------------------------------------------------------


def test_is_model_loading() -> None:
    assert is_model_loading(503, {"error": "Model x is currently loading"})
    assert is_model_loading(503, {"error": "x", "estimated_time": 3})
    assert not is_model_loading(503, {"error": "Service unavailable"})
    assert not is_model_loading(500, {"error": "Model x is currently loading"})
    assert not is_model_loading(503, "Model x is currently loading")


def test_backoff_is_capped_exponential_with_jitter() -> None:
    for retry, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (10, 8.0)]:
        for _ in range(20):
            assert 0.75 * base <= backoff(retry) <= base


def test_retry_after_parsing() -> None:
    assert retry_after({"retry-after": "2"}) == 2.0
    assert retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after({"retry-after": "-4"}) == 0.0
    assert retry_after({}) is None
    assert retry_after({"retry-after": "soon"}) is None
    now = 1_700_000_000.0
    assert retry_after({"retry-after": "Tue, 14 Nov 2023 22:13:30 GMT"}, now=now) == 10.0


def test_next_wait_decisions() -> None:
    common: dict[str, Any] = {"headers": {}, "remaining": None}
    wait = next_wait(status=503, body=LOADING, retries_done=5, max_retries=0, **common)
    assert wait is not None and wait.loading and wait.seconds == 1.0
    assert next_wait(status=500, body=None, retries_done=2, max_retries=2, **common) is None
    assert next_wait(status=400, body=None, retries_done=0, max_retries=2, **common) is None
    wait = next_wait(status=None, body=None, retries_done=0, max_retries=1, **common)
    assert wait is not None and not wait.loading
    # A wait that does not fit in the remaining time is not taken.
    assert (
        next_wait(
            status=429, headers={"retry-after": "30"}, body=None, retries_done=0,
            max_retries=3, remaining=1.0,
        )
        is None
    )  # fmt: skip


def test_next_wait_refuses_a_retry_after_above_the_cap() -> None:
    def wait_for(seconds: str, cap: float) -> Any:
        return next_wait(
            status=429,
            headers={"retry-after": seconds},
            body=None,
            retries_done=0,
            max_retries=2,
            remaining=None,
            max_retry_wait=cap,
        )

    assert wait_for("3600", 60.0) is None
    assert wait_for("30", 60.0) == (30.0, False)
    assert wait_for("60", 60.0) == (60.0, False)  # the cap itself is still waited for


@respx.mock
def test_retry_after_above_the_cap_raises_at_once_with_the_servers_value() -> None:
    route = respx.post(LOCAL_URL).mock(
        return_value=httpx.Response(
            429, headers={"retry-after": "3600"}, json={"error": "slow down"}
        )
    )
    client = InferenceClient(LOCAL_URL, token=False, max_retries=3, max_retry_wait=60)
    with pytest.raises(HfHubHTTPError) as caught:
        client.text_classification("great")
    assert route.call_count == 1
    assert caught.value.retry_after == 3600.0
    assert caught.value.status_code == 429
    assert "max_retry_wait=60s" in str(caught.value)
    assert "slow down" in str(caught.value)


@pytest.mark.parametrize("value", [-1, "60", None, True, float("nan")])
def test_max_retry_wait_is_checked(value: Any) -> None:
    with pytest.raises(ValueError, match="max_retry_wait"):
        InferenceClient(LOCAL_URL, token=False, max_retry_wait=value)
