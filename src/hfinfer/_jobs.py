"""The rest of a provider call once its first answer is in: the job polls, the media download
and the decoding, as one sans-I/O program shared by the sync and the async client.

A program is a generator: it yields `Fetch` (send this request, give me the response) and
`Sleep` (wait this long) and returns the method's result. `drive_sync` and `drive_async` run it
with the client's own sending, so polls and downloads are retried, bounded and mocked like any
call; a caller's cancellation lands in the async sleep or request and closes the program.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable, Generator
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import httpx

from hfinfer._decoding import DecodeFailure, decode_data, decode_response, load_json
from hfinfer._operation import Operation
from hfinfer._provider_answer import b64_media, get, has_rule, media_url, pick, shape
from hfinfer._providers import JobSpec, ResponseRule
from hfinfer._sending import Outgoing
from hfinfer.errors import InferenceDecodeError, InferenceJobError, InferenceTimeoutError


class Fetch(NamedTuple):
    out: Outgoing
    timeout: float | None
    """Seconds left for this request (None: the client's timeout, which is unbounded)."""


class Sleep(NamedTuple):
    seconds: float


Program = Generator[Fetch | Sleep, httpx.Response | None, Any]


class Call(NamedTuple):
    """What a program knows of the call it finishes."""

    op: Operation
    values: tuple[Any, ...]
    provider: str
    rule: ResponseRule
    job: JobSpec | None
    post: Outgoing
    base: str
    """The base URL posted under (the `{base}` of a job's URL templates)."""
    deadline: float | None
    """`clock()` value by which the whole call must be done (None: no bound but the job's)."""
    download: Callable[[str], Outgoing]
    clock: Callable[[], float] = time.monotonic


def finish(call: Call, response: httpx.Response) -> Program:
    """The method's result from the provider's first answer (polling and downloading as needed)."""
    last = response
    try:
        rule, kind = call.rule, call.op.response.kind
        if call.job is not None:
            data, last = yield from _poll(call, response)
        elif rule.media == "raw" or (not has_rule(rule) and kind in ("bytes", "image")):
            return decode_response(call.op, _raw_media(response), call.values)
        else:
            data = load_json(response.content)
        try:
            value = pick(data, rule)
        except DecodeFailure:
            url = next((v for p in rule.text_at if _is_url(v := get(data, p))), None)
            if url is None:
                raise
            last = yield from _fetch(call, call.download(url))
            value = last.content.decode("utf-8", "replace")
        if rule.media:
            if rule.media == "base64" or (rule.media == "data-url" and _is_data_url(value)):
                content = b64_media(value, _what(call.op))
            else:
                url = media_url(value, _what(call.op))
                last = yield from _fetch(call, call.download(url))
                content = last.content
            if not rule.encode:
                return decode_response(call.op, content, call.values)
            value = base64.b64encode(content).decode("ascii")
        return decode_data(call.op, shape(value, rule), call.values)
    except DecodeFailure as exc:
        raise InferenceDecodeError(f"{call.op.method}(): {exc}", response=last) from None


def _raw_media(response: httpx.Response) -> bytes:
    if response.headers.get("content-type", "").startswith("application/json"):
        snippet = response.content[:200].decode("utf-8", "replace")
        raise DecodeFailure(f"expected media, the provider answered with JSON: {snippet!r}")
    return response.content


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _is_data_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("data:")


def _what(op: Operation) -> str:
    return {"image": "image", "bytes": "media"}.get(op.response.kind, "result")


def _fetch(
    call: Call, out: Outgoing
) -> Generator[Fetch | Sleep, httpx.Response | None, httpx.Response]:
    """One request of the program, bounded by what is left of the call's timeout."""
    response = yield Fetch(out, _left(call, out.url))
    assert response is not None  # a driver answers every Fetch with its response
    return response


def _left(call: Call, url: str) -> float | None:
    """Seconds left before the deadline; a timeout error when none are."""
    if call.deadline is None:
        return None
    left = call.deadline - call.clock()
    if left <= 0:
        raise InferenceTimeoutError(f"{call.op.method}(): the call's timeout ran out before {url}")
    return left


def _poll(
    call: Call, response: httpx.Response
) -> Generator[Fetch | Sleep, httpx.Response | None, tuple[Any, httpx.Response]]:
    """Poll the job the submit answer started until it is done; its result and last response."""
    job = call.job
    assert job is not None
    answer = load_json(response.content)
    job_id = get(answer, job.id)
    if not isinstance(job_id, (str, int)) or isinstance(job_id, bool):
        raise DecodeFailure(f"the provider's answer has no job id at {'.'.join(job.id)!r}")
    status_url = _url(job.status_url, call, str(job_id), answer)
    result_url = None if job.result_url is None else _url(job.result_url, call, str(job_id), answer)
    headers = {k: v for k, v in call.post.headers.items() if k.lower() != "content-type"}
    polls, delay = 0, job.interval if job.first_delay is None else job.first_delay
    while True:
        status = get(answer, job.status)
        if status in job.done:
            break
        if status in job.failed or status not in job.pending:
            raise _job_error(call, str(job_id), status, status_url, answer, response)
        if polls >= job.max_polls:
            raise InferenceTimeoutError(
                f"{call.op.method}(): job {job_id} of provider {call.provider!r} was not done "
                f"after {polls} polls (last status {status!r}, {status_url})",
                response=response,
            )
        if call.deadline is not None and call.clock() + delay >= call.deadline:
            raise InferenceTimeoutError(
                f"{call.op.method}(): job {job_id} of provider {call.provider!r} was not done "
                f"within the client's timeout (last status {status!r}, {status_url})",
                response=response,
            )
        if delay > 0:
            yield Sleep(delay)
        delay = job.interval
        response = yield from _fetch(call, Outgoing("GET", status_url, headers))
        polls += 1
        answer = load_json(response.content)
    if result_url is not None:
        response = yield from _fetch(call, Outgoing("GET", result_url, headers))
        answer = load_json(response.content)
    return answer, response


def _url(template: str, call: Call, job_id: str, answer: Any) -> str:
    post = urlsplit(call.post.url)
    link = ""
    job = call.job
    assert job is not None
    if "{link}" in template:
        target = get(answer, job.link)
        if not isinstance(target, str) or not target:
            raise DecodeFailure(f"the provider's answer has no URL at {'.'.join(job.link)!r}")
        parts = urlsplit(target)
        link = parts.path
    return (
        template.replace("{base}", call.base)
        .replace("{url}", post._replace(query="").geturl())
        .replace("{query}", f"?{post.query}" if post.query else "")
        .replace("{id}", job_id)
        .replace("{link}", link)
    )


def _job_error(
    call: Call, job_id: str, status: Any, url: str, answer: Any, response: httpx.Response
) -> InferenceJobError:
    job = call.job
    assert job is not None
    detail = get(answer, job.error)
    if isinstance(detail, dict):
        detail = detail.get("message") or detail
    if job.failed and status in job.failed:
        said = f": {detail}" if detail else " (the provider gave no reason)"
        message = f"job {job_id} of provider {call.provider!r} failed{said}"
    else:
        known = ", ".join(str(s) for s in (*job.pending, *job.done, *job.failed))
        said = response.content[:200].decode("utf-8", "replace")
        message = (
            f"job {job_id} of provider {call.provider!r} reports an unknown status {status!r} "
            f"(known: {known}); it answered {said!r}"
        )
    return InferenceJobError(
        f"{call.op.method}(): {message}",
        provider=call.provider,
        job_id=job_id,
        status=None if status is None else str(status),
        status_url=url,
        response=response,
    )


# -- drivers ----------------------------------------------------------------------------------


def drive_sync(program: Program, send: Callable[[Fetch], httpx.Response]) -> Any:
    try:
        action = next(program)
        while True:
            if isinstance(action, Sleep):
                time.sleep(action.seconds)
                action = program.send(None)
            else:
                action = program.send(send(action))
    except StopIteration as done:
        return done.value
    finally:
        program.close()


async def drive_async(program: Program, send: Callable[[Fetch], Awaitable[httpx.Response]]) -> Any:
    import asyncio  # not at import time: `import hfinfer` stays light

    try:
        action = next(program)
        while True:
            if isinstance(action, Sleep):
                await asyncio.sleep(action.seconds)
                action = program.send(None)
            else:
                action = program.send(await send(action))
    except StopIteration as done:
        return done.value
    finally:
        program.close()
