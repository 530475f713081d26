"""A server's Retry-After against the client's `max_retry_wait` (default 60 s) and `timeout`, on
every engine, with the fault server of tests/faults (429s with Retry-After of 0 s, 1 s, 3600 s
or an HTTP date an hour ahead).

- Above the cap, the call is not slept on: it raises the 429 at once, with `retry_after` set to
  what the server asked and a message naming `max_retry_wait`.
- Below the cap but longer than the time left before `timeout`: it raises at once as well.
- Below both: it is slept on, then the call succeeds. Each retry is one INFO record on the
  `hfinfer` logger naming the attempt, the wait and the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from hfinfer import HfHubHTTPError
from tests.faults.calls import Flavour, Outcome, Runner
from tests.faults.faultserver import FaultServer

pytestmark = pytest.mark.timeout(30)

PROMPT = 2.0
""""At once": well under the smallest wait the server asks for here but 1 s, and any timeout."""


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv
    assert srv.errors == [], "the fault server itself failed"


def _call(flavour: Flavour, model: str, **client_kwargs: object) -> Outcome:
    runner = Runner(flavour, **client_kwargs)
    try:
        return runner.call("classify", model)
    finally:
        runner.close()


def _retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hfinfer" and "retry" in r.getMessage()]


@pytest.mark.parametrize(("fault", "asked"), [("r429hour", 3600.0), ("r429far", 3600.0)])
def test_retry_after_above_max_retry_wait_raises_at_once(
    server: FaultServer,
    flavour: Flavour,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    asked: float,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hfinfer")
    outcome = _call(flavour, server.model_url(fault), max_retries=3)  # no timeout
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert outcome.elapsed < PROMPT
    assert error.status_code == 429
    assert error.attempts == 1
    assert error.retry_after == pytest.approx(asked, abs=5)  # a date is rounded to the second
    message = str(error)
    assert "max_retry_wait=60s" in message
    assert "not waiting" in message
    assert "Rate limit reached, slow down" in message  # the server's own words too
    assert server.faults[fault] == 1
    assert _retry_records(caplog) == []
    assert server.wait_open(0) == 0


def test_retry_after_within_max_retry_wait_but_beyond_the_timeout_raises_at_once(
    server: FaultServer, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hfinfer")
    model = server.model_url("r429hour")
    outcome = _call(flavour, model, max_retries=3, max_retry_wait=4000, timeout=2)
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert outcome.elapsed < 1.0  # not slept on, and not waiting for the 2 s timeout either
    assert error.status_code == 429
    assert error.attempts == 1
    assert error.retry_after == 3600
    assert "max_retry_wait" not in str(error)  # the cap was not the reason
    assert server.faults["r429hour"] == 1
    assert _retry_records(caplog) == []


def test_small_retry_after_is_slept_on_then_succeeds(
    server: FaultServer, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hfinfer")
    model = server.model_url("r429in1", times=1)
    outcome = _call(flavour, model, max_retries=2, timeout=10)
    assert outcome.error is None, outcome.describe()
    assert [(e.label, e.score) for e in outcome.value] == [("POSITIVE", 0.9)]
    assert 1.0 <= outcome.elapsed < 1.0 + PROMPT
    assert server.faults["r429in1"] == 1
    records = _retry_records(caplog)
    assert [(r.levelno, r.getMessage()) for r in records] == [
        (logging.INFO, f"hfinfer: retry 1 of 2 for POST {model} in 1.00s after HTTP 429")
    ]


def test_every_retry_is_logged_at_info_with_reason_and_wait(
    server: FaultServer, flavour: Flavour, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hfinfer")
    model = server.model_url("r429", times=2)  # Retry-After: 0
    outcome = _call(flavour, model, max_retries=3, timeout=10)
    assert outcome.error is None, outcome.describe()
    assert [(r.levelname, r.getMessage()) for r in _retry_records(caplog)] == [
        ("INFO", f"hfinfer: retry {n} of 3 for POST {model} in 0.00s after HTTP 429")
        for n in (1, 2)
    ]


def test_max_retries_zero_with_a_far_retry_after_does_not_mention_the_cap(
    server: FaultServer, flavour: Flavour
) -> None:
    """No retry was possible anyway: the note on max_retry_wait would mislead."""
    outcome = _call(flavour, server.model_url("r429hour"), max_retries=0)
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert error.retry_after == 3600
    assert "max_retry_wait" not in str(error)
