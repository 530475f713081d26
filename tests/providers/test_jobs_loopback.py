"""Provider jobs end to end against a fake provider on 127.0.0.1 (`fakeprovider.py`), on every
flavour ("sync", "aiohttp", "httpx-async"): the submit, the polls, the result and the media
download of fal's queue, wavespeed, together's videos, zai's async images and replicate's
`Prefer: wait` predictions, through the clients' own sending (retries, timeouts, cancellation).

The providers of `hfinfer._providers.TABLE` are pointed at the fake server for each test (their
base URLs, and short job intervals); the Hub mapping is looked up there too (`HF_ENDPOINT`). A
provider key (not hf_) sends every call straight to the "provider". After each call the client is
closed and the server must see no connection left open.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hfinfer import (
    InferenceClient,
    InferenceConnectionError,
    InferenceJobError,
    InferenceTimeoutError,
    _engines,
    _hub,
    _providers,
    _retry,
)
from hfinfer._providers import ProviderSpec
from tests.faults.calls import FLAVOURS, Flavour, make_async_client
from tests.providers.fakeprovider import (
    MODEL,
    PNG,
    PROTOCOLS,
    UNKNOWN,
    VIDEO,
    FakeProvider,
    Protocol,
    Scenario,
    start,
)
from tests.providers.hermetic_env import clean_env

__all__ = ["clean_env"]  # autouse: no proxy, token, endpoint or CA bundle from the environment

KEY = "sk-fake-provider-key"
INTERVAL = 0.02
"""The poll interval of every job in these tests (the real ones are 0.5 s to 5 s)."""
POLLING = list(PROTOCOLS)
FAILING = [name for name, p in PROTOCOLS.items() if p.failed is not None]
"""fal's queue has no failure state: an unknown status is its only way to fail here."""


def _pointed(spec: ProviderSpec, url: str) -> ProviderSpec:
    """The provider's spec with its URLs on the fake server and its jobs polled fast."""
    tasks = {}
    for task, route in spec.tasks.items():
        job = route.job
        if job is not None:
            first = None if job.first_delay is None else min(job.first_delay, INTERVAL)
            job = job._replace(interval=INTERVAL, first_delay=first)
        base = None if route.base_url is None else url
        tasks[task] = route._replace(base_url=base, job=job)
    return spec._replace(base_url=url, tasks=tasks)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    """A running fake provider that the job providers and the Hub lookup point at (in the
    environment of `clean_env`, autouse)."""
    monkeypatch.setattr(_retry, "INITIAL_BACKOFF", 0.01)  # a retried poll waits ~10 ms
    # Every client loads certifi's bundle (~0.15 s); no TLS here, so load it once.
    monkeypatch.setattr(_engines, "ssl_context", functools.cache(_engines.ssl_context))
    server = start()
    try:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        for name in PROTOCOLS:
            monkeypatch.setitem(
                _providers.TABLE, name, _pointed(_providers.TABLE[name], server.url)
            )
        _hub.clear_mappings()
        yield server
    finally:
        server.stop()
        _hub.clear_mappings()


def tune(monkeypatch: pytest.MonkeyPatch, protocol: Protocol, **job: Any) -> None:
    """Change the job spec of the protocol's (provider, task) for this test."""
    spec = _providers.TABLE[protocol.provider]
    route = spec.tasks[protocol.task]
    assert route.job is not None
    tasks = {**spec.tasks, protocol.task: route._replace(job=route.job._replace(**job))}
    monkeypatch.setitem(_providers.TABLE, protocol.provider, spec._replace(tasks=tasks))


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    elapsed: float = 0.0

    def describe(self) -> str:
        if self.error is None:
            return f"no error (returned {type(self.value).__name__})"
        return f"{type(self.error).__name__}: {self.error}"


def _options(protocol: Protocol, client: dict[str, Any] | None) -> dict[str, Any]:
    return {"token": KEY, "provider": protocol.provider, "max_retries": 2, **(client or {})}


async def run(
    fake: FakeProvider,
    flavour: Flavour,
    protocol: Protocol,
    *,
    client: dict[str, Any] | None = None,
    **call: Any,
) -> Outcome:
    """One call of the protocol's method on a fresh client of this flavour, then closed: the
    outcome, and no connection left open on the server."""
    options = _options(protocol, client)
    outcome = Outcome()
    started = time.monotonic()
    try:
        if flavour == "sync":
            with InferenceClient(**options) as sync_client:
                outcome.value = getattr(sync_client, protocol.method)("a fox", model=MODEL, **call)
        else:
            async with make_async_client(flavour, **options) as async_client:
                method = getattr(async_client, protocol.method)
                outcome.value = await method("a fox", model=MODEL, **call)
    except Exception as exc:
        outcome.error = exc
    outcome.elapsed = time.monotonic() - started
    assert_no_leak(fake)
    return outcome


def assert_no_leak(fake: FakeProvider) -> None:
    fake.release()  # a held poll would keep its connection open on the server's side
    left = fake.wait_open(0)
    assert left == 0, f"{left} connection(s) still open after the client was closed"


def check_media(protocol: Protocol, value: Any) -> None:
    if protocol.media is PNG:
        assert value.size == (2, 2), value
        assert value.getpixel((0, 0))[:3] == (255, 0, 0)
    else:
        assert value == VIDEO


def status_path(protocol: Protocol, job_id: str) -> str:
    return {
        "fal-ai": f"/fal-ai/fake/requests/{job_id}/status",
        "wavespeed": f"/api/v3/predictions/{job_id}/result",
        "together": f"/v2/videos/{job_id}",
        "zai-org": f"/api/paas/v4/async-result/{job_id}",
        "replicate": f"/v1/predictions/{job_id}",
    }[protocol.provider]


def auth(protocol: Protocol) -> str:
    return f"{'Key' if protocol.provider == 'fal-ai' else 'Bearer'} {KEY}"


# -- success -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", POLLING)
async def test_job_succeeds_after_several_polls(
    name: str, flavour: Flavour, fake: FakeProvider
) -> None:
    protocol = PROTOCOLS[name]
    fake.scenario = Scenario(polls=3)
    out = await run(fake, flavour, protocol)
    assert out.error is None, out.describe()
    check_media(protocol, out.value)
    state = fake.state
    assert (state.lookups, state.submits, state.status_gets, state.downloads) == (1, 1, 3, 1)
    assert state.results == (1 if name == "fal-ai" else 0)
    assert fake.connections == 1  # lookup, submit, polls and download on one kept-alive connection
    polls = fake.seen("GET", status_path(protocol, "job-1"))
    assert len(polls) == 3
    (post,) = fake.seen("POST")
    assert post.headers["authorization"] == auth(protocol)
    for poll in polls:  # the POST's headers, but no content-type
        assert poll.headers["authorization"] == auth(protocol)
        assert "content-type" not in poll.headers
    (download,) = fake.seen("GET", "/media/")
    assert "authorization" not in download.headers  # no key to the media host
    if name == "replicate":
        assert post.headers["prefer"] == "wait"
        assert post.path == f"/v1/models/{protocol.provider_id}/predictions"
    if name == "fal-ai":  # under response_url's path, not the model's
        assert post.path == f"/{protocol.provider_id}"
        assert fake.seen("GET", "/fal-ai/fake/requests/job-1")[-1].path.endswith("job-1")
    if name == "zai-org":
        assert post.headers["x-source-channel"] == "hugging_face"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", POLLING)
async def test_job_done_in_the_submit_answer_is_not_polled(
    name: str, flavour: Flavour, fake: FakeProvider
) -> None:
    """Replicate's `Prefer: wait` answer (and any submit answer already done) needs no poll."""
    protocol = PROTOCOLS[name]
    fake.scenario = Scenario(polls=0)
    out = await run(fake, flavour, protocol)
    assert out.error is None, out.describe()
    check_media(protocol, out.value)
    assert fake.state.status_gets == 0
    assert fake.state.downloads == 1
    if name == "replicate":
        assert fake.seen("POST")[0].headers["prefer"] == "wait"


# -- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", FAILING)
@pytest.mark.parametrize("polls", [2, 0], ids=["after-polls", "at-submit"])
async def test_failed_job_raises_the_providers_message(
    polls: int, name: str, flavour: Flavour, fake: FakeProvider
) -> None:
    protocol = PROTOCOLS[name]
    fake.scenario = Scenario(polls=polls, end="failed", message="the GPU caught fire")
    out = await run(fake, flavour, protocol)
    error = out.error
    assert isinstance(error, InferenceJobError), out.describe()
    assert "the GPU caught fire" in str(error)
    assert error.provider == name
    assert error.job_id == "job-1"
    assert error.status == protocol.failed
    assert error.status_url == fake.url + status_path(protocol, "job-1")
    assert fake.state.status_gets == polls
    assert fake.state.downloads == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", POLLING)
async def test_unknown_status_raises_naming_it(
    name: str, flavour: Flavour, fake: FakeProvider
) -> None:
    protocol = PROTOCOLS[name]
    fake.scenario = Scenario(polls=2, end="unknown")
    out = await run(fake, flavour, protocol)
    error = out.error
    assert isinstance(error, InferenceJobError), out.describe()
    assert UNKNOWN in str(error)
    assert "unknown status" in str(error)
    assert error.status == UNKNOWN
    assert error.job_id == "job-1"
    assert error.provider == name
    assert fake.state.status_gets == 2
    assert fake.state.downloads == 0


# -- time and poll bounds ------------------------------------------------------------------------

TIMEOUT = 0.6


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_stalled_job_times_out_within_the_client_timeout(
    flavour: Flavour, fake: FakeProvider
) -> None:
    protocol = PROTOCOLS["together"]
    fake.scenario = Scenario(end="never")
    out = await run(fake, flavour, protocol, client={"timeout": TIMEOUT})
    assert isinstance(out.error, InferenceTimeoutError), out.describe()
    assert "timeout" in str(out.error)
    assert out.elapsed < TIMEOUT + 2.0, out.elapsed
    polls = fake.state.status_gets
    assert polls >= 2  # it did poll until then
    time.sleep(5 * INTERVAL)
    assert fake.state.status_gets == polls  # and stopped


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_stalled_poll_request_times_out_within_the_client_timeout(
    flavour: Flavour, fake: FakeProvider
) -> None:
    """A status GET the server never answers is bounded by what is left of the timeout."""
    protocol = PROTOCOLS["wavespeed"]
    fake.scenario = Scenario(end="never", hold_from=2)
    out = await run(fake, flavour, protocol, client={"timeout": TIMEOUT})
    assert isinstance(out.error, InferenceTimeoutError), out.describe()
    assert out.elapsed < TIMEOUT + 2.0, out.elapsed
    assert fake.state.held == 1  # not retried after the timeout
    assert fake.state.status_gets == 2


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", ["fal-ai", "zai-org"])  # zai polls once before any wait
async def test_poll_limit_raises_a_timeout(
    name: str, flavour: Flavour, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    protocol = PROTOCOLS[name]
    tune(monkeypatch, protocol, max_polls=4)
    fake.scenario = Scenario(end="never")
    out = await run(fake, flavour, protocol)
    assert isinstance(out.error, InferenceTimeoutError), out.describe()
    assert "after 4 polls" in str(out.error)
    assert "job-1" in str(out.error)
    assert fake.state.status_gets == 4


# -- cancellation --------------------------------------------------------------------------------


async def _wait_for(condition: Any, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, "the fake provider did not see the expected polls"
        await asyncio.sleep(0.002)


def _skip_sync(flavour: Flavour) -> None:
    if flavour == "sync":
        pytest.skip("a sync call has no task to cancel: it runs to its end or its timeout")


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_cancel_between_polls_stops_polling(flavour: Flavour, fake: FakeProvider) -> None:
    _skip_sync(flavour)
    protocol = PROTOCOLS["fal-ai"]
    fake.scenario = Scenario(end="never")
    async with make_async_client(flavour, **_options(protocol, None)) as client:
        task = asyncio.create_task(client.text_to_video("a fox", model=MODEL))
        await _wait_for(lambda: fake.status_gets >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        polls = fake.status_gets
        await asyncio.sleep(10 * INTERVAL)
        assert fake.status_gets == polls
    assert fake.state.downloads == 0
    assert_no_leak(fake)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_cancel_during_a_poll_request_stops_polling(
    flavour: Flavour, fake: FakeProvider
) -> None:
    _skip_sync(flavour)
    protocol = PROTOCOLS["zai-org"]
    fake.scenario = Scenario(end="never", hold_from=2)
    async with make_async_client(flavour, **_options(protocol, None)) as client:
        task = asyncio.create_task(client.text_to_image("a fox", model=MODEL))
        await _wait_for(lambda: fake.state.held >= 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        fake.release()  # the held poll is answered now, to nobody
        await asyncio.sleep(10 * INTERVAL)
        assert fake.status_gets == 2
    assert_no_leak(fake)


# -- connection resets ---------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_reset_poll_is_retried_and_the_job_succeeds(
    flavour: Flavour, fake: FakeProvider
) -> None:
    protocol = PROTOCOLS["together"]
    fake.scenario = Scenario(polls=3, reset=frozenset({2}))
    out = await run(fake, flavour, protocol)
    assert out.error is None, out.describe()
    check_media(protocol, out.value)
    assert fake.state.resets == 1
    assert fake.state.status_gets == 4  # 3 answered, 1 reset and sent again
    assert fake.state.downloads == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_two_reset_polls_in_a_row_are_retried(flavour: Flavour, fake: FakeProvider) -> None:
    """Two resets in a row: more than any engine's own resend of a kept-alive request, so the
    client's retries (max_retries=2) are what carry the job through."""
    protocol = PROTOCOLS["zai-org"]
    fake.scenario = Scenario(polls=3, reset=frozenset({2, 3}))
    out = await run(fake, flavour, protocol)
    assert out.error is None, out.describe()
    check_media(protocol, out.value)
    assert fake.state.resets == 2
    assert fake.state.status_gets == 5


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("where", ["client", "call"])
async def test_reset_poll_without_retries_raises_a_connection_error(
    where: str, flavour: Flavour, fake: FakeProvider
) -> None:
    protocol = PROTOCOLS["together"]
    fake.scenario = Scenario(polls=3, reset=frozenset({2}))
    if where == "client":
        out = await run(fake, flavour, protocol, client={"max_retries": 0})
    else:
        out = await run(fake, flavour, protocol, max_retries=0)
    assert isinstance(out.error, InferenceConnectionError), out.describe()
    assert "/v2/videos/job-1" in str(out.error)
    assert fake.state.status_gets == 2  # not sent again
    assert fake.state.downloads == 0
