"""Against a real loopback socket: timeouts fire within bounds; errors carry the server's words."""

from __future__ import annotations

import time

import pytest

from hfinfer import AsyncInferenceClient, BadRequestError, InferenceClient, InferenceTimeoutError

from .conftest import Loopback

TIMEOUT = 0.5


def test_sync_stalled_server_times_out(loopback: Loopback) -> None:
    client = InferenceClient(loopback.url + "/stall", token=False, timeout=TIMEOUT)
    start = time.monotonic()
    with pytest.raises(InferenceTimeoutError) as info:
        client.text_classification("x")
    assert time.monotonic() - start < TIMEOUT + 1
    assert "timed out" in str(info.value)


async def test_async_stalled_server_times_out(loopback: Loopback) -> None:
    client = AsyncInferenceClient(loopback.url + "/stall", token=False, timeout=TIMEOUT)
    start = time.monotonic()
    with pytest.raises(InferenceTimeoutError):
        await client.text_classification("x")
    assert time.monotonic() - start < TIMEOUT + 1
    await client.close()


def _assert_error(error: BadRequestError) -> None:
    text = str(error)
    assert "400" in text
    assert "`inputs` must not be empty" in text
    assert "req-1234" in text
    assert error.status_code == 400
    assert error.request_id == "req-1234"
    assert error.server_message == "Input validation error: `inputs` must not be empty"


def test_sync_error_carries_message_status_request_id(loopback: Loopback) -> None:
    client = InferenceClient(loopback.url + "/error", token=False, max_retries=0)
    with pytest.raises(BadRequestError) as info:
        client.text_classification("x")
    _assert_error(info.value)


async def test_async_error_carries_message_status_request_id(loopback: Loopback) -> None:
    async with AsyncInferenceClient(loopback.url + "/error", token=False, max_retries=0) as client:
        with pytest.raises(BadRequestError) as info:
            await client.text_classification("x")
    _assert_error(info.value)
