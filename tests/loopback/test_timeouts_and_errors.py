"""Against a real loopback socket, on every engine: timeouts fire within bounds; errors carry the
server's words."""

from __future__ import annotations

import pytest

from hfinfer import BadRequestError, InferenceTimeoutError
from tests.faults.calls import Flavour, Runner

from .conftest import Loopback

TIMEOUT = 0.5


def test_stalled_server_times_out(loopback: Loopback, flavour: Flavour) -> None:
    runner = Runner(flavour, timeout=TIMEOUT)
    try:
        outcome = runner.call("classify", loopback.url + "/stall")
    finally:
        runner.close()
    assert isinstance(outcome.error, InferenceTimeoutError), outcome.describe()
    assert outcome.elapsed < TIMEOUT + 1
    assert "timed out" in str(outcome.error)
    assert "ReadTimeout" in str(outcome.error)  # every engine reports the stall as a read timeout
    assert outcome.error.attempts == 1  # a timeout is not retried


def test_error_carries_message_status_request_id(loopback: Loopback, flavour: Flavour) -> None:
    runner = Runner(flavour, max_retries=0)
    try:
        outcome = runner.call("classify", loopback.url + "/error")
    finally:
        runner.close()
    error = outcome.error
    assert isinstance(error, BadRequestError), outcome.describe()
    text = str(error)
    assert "400" in text
    assert "`inputs` must not be empty" in text
    assert "req-1234" in text
    assert error.status_code == 400
    assert error.request_id == "req-1234"
    assert error.server_message == "Input validation error: `inputs` must not be empty"
    assert loopback.wait_open(0) == 0


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_no_timeout_or_a_long_one_does_not_fire_early(
    loopback: Loopback, flavour: Flavour, timeout: float | None
) -> None:
    runner = Runner(flavour, timeout=timeout)
    try:
        outcome = runner.call("classify", loopback.url + "/plain")
    finally:
        runner.close()
    assert outcome.error is None, outcome.describe()
    assert outcome.value[0].label == "POSITIVE"
