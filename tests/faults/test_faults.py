"""Every fault of the fault server, against every client and engine, over real loopback sockets.

Flavours: the sync client (httpx's own transport), the async client on aiohttp (its default) and
the async client on httpx's own transport (`engine="httpx"`).

Each call ends with the right result or a typed hfinfer error, in bounded time, and leaves no
connection open once the client is closed (the server counts connections on its side).
"""

from __future__ import annotations

import logging

import pytest

from hfinfer import (
    HfHubHTTPError,
    InferenceConnectionError,
    InferenceDecodeError,
    InferenceError,
    InferenceTimeoutError,
)

from .calls import FLAVOURS, Call, Flavour, Outcome, Runner
from .faultserver import (
    CHAT_TOKENS,
    REQUEST_ID,
    SERVER_500_MESSAGE,
    TOKEN,
    FaultServer,
    big_sse_content,
)

TIMEOUT = 0.5
PROMPT = 5.0
"""Generous bound for "the timeout fired promptly" (10x TIMEOUT)."""
OPEN_BOUND = 2
"""Connections one sequential client may hold open on the server: one idle keep-alive, one spare."""

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> Flavour:
    param: Flavour = request.param
    return param


def _run(
    server: FaultServer,
    flavour: Flavour,
    call: Call,
    model: str,
    *,
    timeout: float = 10.0,
    max_retries: int = 2,
) -> Outcome:
    """One call on a fresh client, then close it: no connection may stay open."""
    runner = Runner(flavour, timeout=timeout, max_retries=max_retries)
    try:
        outcome = runner.call(call, model)
    finally:
        runner.close()
    assert server.wait_open(0) == 0, f"connection left open after {outcome.describe()}"
    assert server.max_open <= OPEN_BOUND
    return outcome


def _ok(outcome: Outcome, call: Call) -> None:
    assert outcome.error is None, outcome.describe()
    if call == "chat":
        assert outcome.chunks == [TOKEN] * CHAT_TOKENS
    else:
        assert [(e.label, e.score) for e in outcome.value] == [("POSITIVE", 0.9)]


def _raised(outcome: Outcome, cls: type[InferenceError]) -> InferenceError:
    assert isinstance(outcome.error, cls), outcome.describe()
    return outcome.error


CALLS: tuple[Call, ...] = ("classify", "chat")


# -- connection resets ---------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_reset_before_response_is_retried(
    server: FaultServer, flavour: Flavour, call: Call
) -> None:
    model = server.model_url("reset", times=2)
    _ok(_run(server, flavour, call, model, max_retries=2), call)
    assert server.faults["reset"] == 2


@pytest.mark.parametrize("call", CALLS)
def test_reset_before_response_every_time(
    server: FaultServer, flavour: Flavour, call: Call
) -> None:
    outcome = _run(server, flavour, call, server.model_url("reset"), max_retries=2)
    error = _raised(outcome, InferenceConnectionError)
    assert isinstance(error, InferenceConnectionError)
    assert error.attempts == 3
    assert server.faults["reset"] == 3


def test_reset_mid_stream(server: FaultServer, flavour: Flavour) -> None:
    outcome = _run(server, flavour, "chat", server.model_url("midreset"), max_retries=2)
    error = _raised(outcome, InferenceConnectionError)
    # The two chunks sent before the reset were delivered (the server waits 10 ms before the RST).
    assert outcome.chunks == [TOKEN, TOKEN]
    assert server.faults["midreset"] == 1  # a stream that has started is never sent again
    assert isinstance(error, InferenceConnectionError) and error.attempts == 1


def test_reset_mid_body(server: FaultServer, flavour: Flavour) -> None:
    # A body cut before the call returned anything is a connection error like any other: retried.
    outcome = _run(server, flavour, "classify", server.model_url("midreset"), max_retries=2)
    error = _raised(outcome, InferenceConnectionError)
    assert isinstance(error, InferenceConnectionError) and error.attempts == 3
    assert server.faults["midreset"] == 3
    once = _run(server, flavour, "classify", server.model_url("midreset", times=1), max_retries=1)
    _ok(once, "classify")


# -- statuses that are waited on or retried ------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_model_loading_then_success(server: FaultServer, flavour: Flavour, call: Call) -> None:
    # Loading waits do not count against max_retries: three 503s pass with max_retries=0.
    model = server.model_url("loading", times=3)
    _ok(_run(server, flavour, call, model, max_retries=0), call)
    assert server.faults["loading"] == 3


def test_model_loading_longer_than_timeout(server: FaultServer, flavour: Flavour) -> None:
    outcome = _run(server, flavour, "classify", server.model_url("loading"), timeout=TIMEOUT)
    error = _raised(outcome, InferenceTimeoutError)
    assert outcome.elapsed < PROMPT
    assert isinstance(error, InferenceTimeoutError)
    assert "loaded" in str(error) or "loading" in str(error)
    assert error.response is not None and error.response.status_code == 503


@pytest.mark.parametrize("fault", ["r429", "r429date", "r429ms"])
@pytest.mark.parametrize("call", CALLS)
def test_429_then_success(server: FaultServer, flavour: Flavour, call: Call, fault: str) -> None:
    model = server.model_url(fault, times=2)
    outcome = _run(server, flavour, call, model, max_retries=2, timeout=10.0)
    _ok(outcome, call)
    # r429ms also sends Retry-After: 3600; retry-after-ms (20 ms) must win.
    assert outcome.elapsed < PROMPT
    assert server.faults[fault] == 2


def test_429_retry_after_beyond_timeout_gives_up(server: FaultServer, flavour: Flavour) -> None:
    # Retry-After is an HTTP date an hour ahead: the wait cannot fit in the 5 s timeout.
    model = server.model_url("r429far")
    outcome = _run(server, flavour, "classify", model, max_retries=3, timeout=PROMPT)
    error = _raised(outcome, HfHubHTTPError)
    assert isinstance(error, HfHubHTTPError)
    assert error.status_code == 429
    assert error.attempts == 1
    assert outcome.elapsed < PROMPT


@pytest.mark.parametrize("call", CALLS)
def test_500_burst_then_success(server: FaultServer, flavour: Flavour, call: Call) -> None:
    model = server.model_url("e500", times=3)
    _ok(_run(server, flavour, call, model, max_retries=3), call)
    assert server.faults["e500"] == 3


@pytest.mark.parametrize("max_retries", [0, 2])
@pytest.mark.parametrize("call", CALLS)
def test_500_burst_longer_than_retries(
    server: FaultServer, flavour: Flavour, call: Call, max_retries: int
) -> None:
    model = server.model_url("e500", times=max_retries + 5)
    outcome = _run(server, flavour, call, model, max_retries=max_retries)
    error = _raised(outcome, HfHubHTTPError)
    assert isinstance(error, HfHubHTTPError)
    assert error.status_code == 500
    assert error.attempts == max_retries + 1
    assert error.server_message == SERVER_500_MESSAGE
    assert error.request_id == REQUEST_ID
    assert SERVER_500_MESSAGE in str(error)
    assert REQUEST_ID in str(error)
    assert server.faults["e500"] == max_retries + 1


# -- a server slower than the timeout ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "call"),
    [
        ("stallhead", "classify"),
        ("stallhead", "chat"),
        ("stallbody", "classify"),
        ("stallstream", "chat"),
    ],
)
def test_stalled_server_times_out_promptly(
    server: FaultServer, flavour: Flavour, fault: str, call: Call
) -> None:
    outcome = _run(server, flavour, call, server.model_url(fault), timeout=TIMEOUT)
    _raised(outcome, InferenceTimeoutError)
    assert outcome.elapsed < PROMPT
    if fault == "stallstream":
        assert outcome.chunks == [TOKEN]
    assert server.faults[fault] == 1  # a timeout is not retried


def test_timed_out_connection_is_closed_before_the_client(
    server: FaultServer, flavour: Flavour
) -> None:
    runner = Runner(flavour, timeout=TIMEOUT)
    try:
        outcome = runner.call("classify", server.model_url("stallhead"))
        _raised(outcome, InferenceTimeoutError)
        # The timed-out connection cannot be reused: the client must drop it, not pool it.
        assert server.wait_open(0) == 0
        _ok(runner.call("classify", server.model_url("ok")), "classify")
    finally:
        runner.close()
    assert server.wait_open(0) == 0


# -- broken bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_truncated_body(server: FaultServer, flavour: Flavour, call: Call) -> None:
    outcome = _run(server, flavour, call, server.model_url("truncated"))
    _raised(outcome, InferenceConnectionError)
    if call == "chat":  # the whole first chunk arrived, the second was cut
        assert outcome.chunks == [TOKEN]


@pytest.mark.parametrize("call", CALLS)
def test_invalid_json(server: FaultServer, flavour: Flavour, call: Call) -> None:
    outcome = _run(server, flavour, call, server.model_url("badjson"))
    error = _raised(outcome, InferenceDecodeError)
    if call == "classify":
        assert "valid JSON" in str(error)


def test_invalid_utf8_in_json_body(server: FaultServer, flavour: Flavour) -> None:
    # A JSON body must be UTF-8 (RFC 8259): bytes that are not are a decode error, on every engine
    # (decoding is hfinfer's, above the engine).
    outcome = _run(server, flavour, "classify", server.model_url("badutf8"))
    error = _raised(outcome, InferenceDecodeError)
    assert "valid JSON" in str(error) and "utf-8" in str(error)


def test_invalid_utf8_in_sse_data(server: FaultServer, flavour: Flavour) -> None:
    # SSE is decoded as UTF-8 with replacement (as the EventSource spec says), on every engine.
    outcome = _run(server, flavour, "chat", server.model_url("badutf8"))
    assert outcome.error is None, outcome.describe()
    assert outcome.chunks == ["to\ufffd\ufffdk"]


@pytest.mark.timeout(5)  # linear decoding takes well under a second
def test_ten_megabyte_sse_event(server: FaultServer, flavour: Flavour) -> None:
    outcome = _run(server, flavour, "chat", server.model_url("bigsse"))
    assert outcome.error is None, outcome.describe()
    assert len(outcome.chunks) == 1
    assert len(outcome.chunks[0]) == len(big_sse_content())
    assert outcome.chunks[0] == big_sse_content()


# -- not HTTP at all -----------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_ssh_banner_instead_of_http(server: FaultServer, flavour: Flavour, call: Call) -> None:
    outcome = _run(server, flavour, call, server.model_url("garbage"), max_retries=1)
    error = _raised(outcome, InferenceConnectionError)
    assert isinstance(error, InferenceConnectionError)
    assert error.attempts == 2


@pytest.mark.parametrize("call", CALLS)
def test_random_bytes_instead_of_http(server: FaultServer, flavour: Flavour, call: Call) -> None:
    # 1 MiB without a line end, connection kept open: the client must give up on the response
    # head (bounded buffer), not wait for the timeout.
    outcome = _run(server, flavour, call, server.model_url("noise"), timeout=PROMPT, max_retries=1)
    error = _raised(outcome, InferenceConnectionError)
    assert isinstance(error, InferenceConnectionError)
    assert error.attempts == 2


# -- many faults on one client -------------------------------------------------------------------

MIX: list[tuple[str, int | None, Call, type[InferenceError] | None]] = [
    # fault, times, call, the error it must end in (None: the right result)
    ("reset", 1, "classify", None),
    ("midreset", None, "chat", InferenceConnectionError),
    ("e500", 1, "chat", None),
    ("e500", None, "classify", HfHubHTTPError),
    ("loading", 1, "classify", None),
    ("r429", 1, "chat", None),
    ("truncated", None, "classify", InferenceConnectionError),
    ("truncated", None, "chat", InferenceConnectionError),
    ("stallhead", None, "classify", InferenceTimeoutError),
    ("stallstream", None, "chat", InferenceTimeoutError),
    ("badjson", None, "classify", InferenceDecodeError),
    ("badutf8", None, "chat", None),
    ("garbage", None, "classify", InferenceConnectionError),
    ("ok", None, "chat", None),
    ("ok", None, "classify", None),
]


def test_faults_do_not_accumulate_connections(server: FaultServer, flavour: Flavour) -> None:
    runner = Runner(flavour, timeout=TIMEOUT, max_retries=1)
    highest = 0
    try:
        for _round in range(3):
            for fault, times, call, expected in MIX:
                outcome = runner.call(call, server.model_url(fault, times=times))
                if expected is not None:
                    _raised(outcome, expected)
                elif fault == "badutf8":
                    assert outcome.error is None and outcome.chunks == ["to\ufffd\ufffdk"]
                else:
                    _ok(outcome, call)
                highest = max(highest, server.open)
        _ok(runner.call("classify", server.model_url("ok")), "classify")
    finally:
        runner.close()
    assert highest <= OPEN_BOUND
    assert server.max_open <= OPEN_BOUND
    assert server.wait_open(0) == 0
    assert server.accepted < 3 * len(MIX)  # idle connections are reused: fewer than one per call


# -- retry logging -------------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "retries"), [("e500", 2), ("reset", 1), ("r429", 2)])
def test_one_info_record_per_retry(
    server: FaultServer,
    flavour: Flavour,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    retries: int,
) -> None:
    caplog.set_level(logging.INFO, logger="hfinfer")
    model = server.model_url(fault, times=retries)
    _ok(_run(server, flavour, "classify", model, max_retries=3), "classify")
    records = [
        r
        for r in caplog.records
        if r.name == "hfinfer" and r.levelno == logging.INFO and "retry" in r.getMessage()
    ]
    reason = {"e500": "HTTP 500", "r429": "HTTP 429", "reset": "ReadError"}[fault]
    # A reset before the response is an httpx.ReadError on every engine (aiohttp's
    # ClientOSError is mapped to it).
    assert [r.getMessage() for r in records] == [
        f"hfinfer: retry {n} of 3 for POST {model} in 0.00s after {reason}"
        for n in range(1, retries + 1)
    ]
    assert not [r for r in caplog.records if r.levelno < logging.INFO and "retry" in r.getMessage()]
