"""Contract of the (provider, task) pairs that run as jobs — fal's queue, replicate's predictions,
together's videos, wavespeed and zai-org — sync and async, Hugging Face token and provider key:
the submit POST, every status poll and result GET (URL and auth), the media download (no
authorization), the typed result, and failed jobs. Then a made-up provider added as a data file
alone, and a check that every media pair has a contract.

The poll intervals are shrunk to 0 (`fast_jobs`); the expectations come from the fact sheet (§4,
§5), not from the generated table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, KEYS, PROVIDER_ID, ROUTER, check_lookup
from test_provider_media import (
    AUDIO,
    FAL_QUEUE,
    IMAGE_URL,
    INPUT,
    MEDIA_URL,
    PNG,
    VIDEO,
    auth,
    base,
    call,
    check_download,
    check_png,
    check_post,
    data_url,
    mock_download,
    mock_mapping,
    png,
)

import hfinfer
from hfinfer import InferenceJobError, _providers

ROOT = Path(__file__).resolve().parents[2]
MASK = png((255, 255, 255), (2, 2))


@pytest.fixture(autouse=True)
def fast_jobs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every job of the installed table polls at once (restored by monkeypatch afterwards)."""
    for name, spec in list(_providers.TABLE.items()):
        tasks = {
            task: route._replace(job=route.job._replace(interval=0.0, first_delay=0.0))
            for task, route in spec.tasks.items()
            if route.job is not None
        }
        if tasks:
            monkeypatch.setitem(
                _providers.TABLE, name, spec._replace(tasks={**spec.tasks, **tasks})
            )
    yield


def check_gets(
    route: respx.Route,
    url: str,
    authorization: str,
    count: int,
    headers: dict[str, str] | None = None,
) -> None:
    """A job's polls (or its result GET): `count` GETs of `url`, with the POST's auth."""
    assert route.call_count == count
    for sent in route.calls:
        assert sent.request.method == "GET"
        assert str(sent.request.url) == url
        assert sent.request.headers["authorization"] == authorization
        for name, value in (headers or {}).items():
            assert sent.request.headers[name] == value


def answers(*payloads: Any) -> list[httpx.Response]:
    return [httpx.Response(200, json=p) for p in payloads]


class Case(NamedTuple):
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    body: dict[str, Any]
    result: Any
    """The done job's answer, with the media at MEDIA_URL."""
    media: bytes | None
    """What MEDIA_URL serves (None: nothing is downloaded)."""


def source_of(source: str, mime: str) -> tuple[Any, str]:
    """The image argument and how it is sent: bytes as a data URL, a URL as it is."""
    return (INPUT, data_url(mime)) if source == "bytes" else (IMAGE_URL, IMAGE_URL)


def check_result(case: Case, out: Any) -> None:
    if case.method in ("text_to_image", "image_to_image"):
        check_png(out)
    elif case.method == "image_segmentation":
        assert [type(o) for o in out] == [hfinfer.ImageSegmentationOutputElement]
        assert out[0].label == "mask" and out[0].score is None
        check_png(out[0].mask, MASK)
    elif case.method == "automatic_speech_recognition":
        assert isinstance(out, hfinfer.AutomaticSpeechRecognitionOutput)
        assert out.text == "hello"
    else:
        assert out == case.media


# -- fal's queue ----------------------------------------------------------------------------


def fal_case(task: str, source: str) -> Case:
    if task == "image-to-image":
        image, sent = source_of(source, "image/jpeg")
        body = {
            "image_url": sent,
            "image_urls": [sent],
            "prompt": "make it blue",
            "image_size": {"width": 640, "height": 320},
        }
        kwargs = {"width": 640, "height": 320}
        return Case(
            "image_to_image",
            (image, "make it blue"),
            kwargs,
            body,
            {"images": [{"url": MEDIA_URL}]},
            PNG,
        )
    if task == "image-to-video":
        image, sent = source_of(source, "image/jpeg")
        return Case(
            "image_to_video",
            (image,),
            {"prompt": "wave", "num_frames": 16},
            {"image_url": sent, "prompt": "wave", "num_frames": 16},
            {"video": {"url": MEDIA_URL}},
            VIDEO,
        )
    if task.startswith("image-segmentation"):
        image, sent = source_of(source, "image/png")
        fetched = task.endswith("fetched-mask")  # the mask as a URL to download, or inline
        mask = MEDIA_URL if fetched else data_url("image/png", MASK)
        return Case(
            "image_segmentation",
            (image,),
            {"threshold": 0.5},
            {"image_url": sent, "threshold": 0.5, "sync_mode": True},
            {"image": {"url": mask, "content_type": "image/png"}},
            MASK if fetched else None,
        )
    assert task == "text-to-video" and source == "bytes"
    return Case(
        "text_to_video",
        ("a dog",),
        {"num_frames": 16, "seed": 3},
        {"prompt": "a dog", "num_frames": 16, "seed": 3},
        {"video": {"url": MEDIA_URL}},
        VIDEO,
    )


def fal_status(status: str) -> dict[str, Any]:
    """A fal queue answer (the submit's and every status GET's)."""
    job = f"{FAL_QUEUE}/provider/requests/req-1"
    return {"request_id": "req-1", "status": status, "response_url": job,
            "status_url": f"{job}/status", "cancel_url": f"{job}/cancel"}  # fmt: skip


FAL_CASES = [
    (task, source)
    for task in (
        "image-to-image",
        "image-to-video",
        "image-segmentation",
        "image-segmentation/fetched-mask",
    )
    for source in ("bytes", "url")
] + [("text-to-video", "bytes")]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize(("task", "source"), FAL_CASES)
async def test_fal_queue(
    task: str, source: str, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    case = fal_case(task, source)
    hub_task = task.split("/")[0]
    lookup = mock_mapping(mock, "fal-ai", hub_task)
    queue, query = (f"{ROUTER}/fal-ai", "?_subdomain=queue") if key == "hf" else (FAL_QUEUE, "")
    url = f"{queue}/{PROVIDER_ID}{query}"
    # the status and result live under the path of response_url, not under the model's
    submitted = fal_status("IN_QUEUE")
    post = mock.post(url).mock(return_value=httpx.Response(200, json=submitted))
    job = f"{queue}/provider/requests/req-1"
    status = mock.get(f"{job}/status{query}").mock(
        side_effect=answers(fal_status("IN_PROGRESS"), fal_status("COMPLETED"))
    )
    result = mock.get(f"{job}{query}").mock(return_value=httpx.Response(200, json=case.result))
    download = None if case.media is None else mock_download(mock, case.media, "image/png")
    out = await call(flavour, case.method, *case.args, provider="fal-ai", key=key, **case.kwargs)
    authorization = auth("fal-ai", key)
    assert check_post(post, url, authorization) == case.body
    check_gets(status, f"{job}/status{query}", authorization, 2)
    check_gets(result, f"{job}{query}", authorization, 1)
    if download is not None:
        check_download(download)
    check_lookup(lookup, key)
    assert len(mock.calls) == 5 + (download is not None)  # an input URL is never downloaded
    check_result(case, out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_fal_result_url_is_the_submit_answers_response_url(
    key: str, flavour: str, mock: respx.MockRouter
) -> None:
    """§5: the result path P is the path of the POST answer's `response_url`; the status
    answers need not repeat it."""
    mock_mapping(mock, "fal-ai", "text-to-video")
    queue, query = (f"{ROUTER}/fal-ai", "?_subdomain=queue") if key == "hf" else (FAL_QUEUE, "")
    mock.post(f"{queue}/{PROVIDER_ID}{query}").mock(
        return_value=httpx.Response(200, json=fal_status("IN_QUEUE"))
    )
    job = f"{queue}/provider/requests/req-1"
    status = mock.get(f"{job}/status{query}").mock(
        side_effect=answers({"status": "IN_PROGRESS"}, {"status": "COMPLETED"})
    )
    result = mock.get(f"{job}{query}").mock(
        return_value=httpx.Response(200, json={"video": {"url": MEDIA_URL}})
    )
    download = mock_download(mock, VIDEO, "video/mp4")
    out = await call(flavour, "text_to_video", "a dog", provider="fal-ai", key=key)
    assert status.call_count == 2
    check_gets(result, f"{job}{query}", auth("fal-ai", key), 1)
    check_download(download)
    assert out == VIDEO


# -- replicate ------------------------------------------------------------------------------


def replicate_case(task: str) -> Case:
    image, sent = source_of("bytes", "image/jpeg")
    cases = {
        "text-to-image": Case("text_to_image", ("a red square",),
                              {"width": 640, "height": 320, "num_inference_steps": 4},
                              {"prompt": "a red square", "width": 640, "height": 320,
                               "num_inference_steps": 4}, None, PNG),
        "image-to-image": Case("image_to_image", (image, "make it blue"), {},
                               {"image": sent, "images": [sent], "input_image": sent,
                                "input_images": [sent], "prompt": "make it blue"}, None, PNG),
        "text-to-speech": Case("text_to_speech", ("Hello",), {"temperature": 0.7},
                               {"text": "Hello", "temperature": 0.7}, None, AUDIO),
        "text-to-video": Case("text_to_video", ("a dog",), {"num_frames": 16},
                              {"prompt": "a dog", "num_frames": 16}, None, VIDEO),
        "automatic-speech-recognition": Case("automatic_speech_recognition", (AUDIO,), {},
                                             {"audio": data_url("audio/wav", AUDIO)}, None, None),
    }  # fmt: skip
    return cases[task]


REPLICATE_TASKS = (
    "automatic-speech-recognition",
    "image-to-image",
    "text-to-image",
    "text-to-speech",
    "text-to-video",
)
VERSIONED = "owner/model:5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


def replicate_post(
    mock: respx.MockRouter, key: str, task: str, versioned: bool, answer: dict[str, Any]
) -> tuple[respx.Route, respx.Route, str]:
    provider_id = VERSIONED if versioned else PROVIDER_ID
    lookup = mock_mapping(mock, "replicate", task, provider_id)
    route = "/v1/predictions" if versioned else f"/v1/models/{PROVIDER_ID}/predictions"
    url = base("replicate", key) + route
    return lookup, mock.post(url).mock(return_value=httpx.Response(201, json=answer)), url


def replicate_body(case: Case, versioned: bool) -> dict[str, Any]:
    return {"input": case.body, **({"version": VERSIONED.split(":")[1]} if versioned else {})}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("versioned", [False, True], ids=["model", "version"])
@pytest.mark.parametrize("task", REPLICATE_TASKS)
async def test_replicate(
    task: str, versioned: bool, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    case = replicate_case(task)
    output: Any = "hello" if case.media is None else MEDIA_URL
    output = [output] if versioned else output  # a list: its first item
    answer = {"id": "p-1", "status": "succeeded", "output": output}
    lookup, post, url = replicate_post(mock, key, task, versioned, answer)
    download = (
        None if case.media is None else mock_download(mock, case.media, "application/octet-stream")
    )
    out = await call(flavour, case.method, *case.args, provider="replicate", key=key, **case.kwargs)
    body = check_post(post, url, auth("replicate", key), {"prefer": "wait"})
    assert body == replicate_body(case, versioned)
    if download is not None:
        check_download(download)
    check_lookup(lookup, key)
    assert len(mock.calls) == 2 + (download is not None)  # done in the first answer: no poll
    check_result(case, out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("task", ["image-to-image", "automatic-speech-recognition"])
async def test_replicate_takes_input_urls_as_they_are(
    task: str, flavour: str, mock: respx.MockRouter
) -> None:
    speech = "https://audio.example.com/speech.wav"
    output = "hello" if task == "automatic-speech-recognition" else MEDIA_URL
    answer = {"id": "p-1", "status": "succeeded", "output": output}
    _, post, url = replicate_post(mock, "provider", task, False, answer)
    download = mock_download(mock, PNG, "image/png")
    if task == "image-to-image":
        out = await call(flavour, "image_to_image", IMAGE_URL, provider="replicate", key="provider")
        expected = {"image": IMAGE_URL, "images": [IMAGE_URL], "input_image": IMAGE_URL,
                    "input_images": [IMAGE_URL]}  # fmt: skip
        check_png(out)
    else:
        out = await call(
            flavour, "automatic_speech_recognition", speech, provider="replicate", key="provider"
        )
        expected = {"audio": speech}
        assert out.text == "hello"
    body = check_post(post, url, auth("replicate", "provider"), {"prefer": "wait"})
    assert body == {"input": expected}
    assert len(mock.calls) == 2 + download.call_count  # the input URL itself is not fetched
    assert download.call_count == (task == "image-to-image")


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_replicate_polls_a_prediction_still_running(
    key: str, flavour: str, mock: respx.MockRouter
) -> None:
    case = replicate_case("text-to-image")
    answer = {"id": "p-1", "status": "processing", "output": None}
    _, post, url = replicate_post(mock, key, "text-to-image", False, answer)
    poll_url = base("replicate", key) + "/v1/predictions/p-1"
    poll = mock.get(poll_url).mock(side_effect=answers(
        {"id": "p-1", "status": "processing", "output": None},
        {"id": "p-1", "status": "succeeded", "output": [MEDIA_URL]},
    ))  # fmt: skip
    download = mock_download(mock, PNG, "image/png")
    out = await call(flavour, case.method, *case.args, provider="replicate", key=key, **case.kwargs)
    check_post(post, url, auth("replicate", key), {"prefer": "wait"})
    check_gets(poll, poll_url, auth("replicate", key), 2)
    check_download(download)
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("when", ["first-answer", "poll"])
async def test_replicate_failed_prediction(when: str, flavour: str, mock: respx.MockRouter) -> None:
    failed = {"id": "p-1", "status": "failed", "output": None, "error": "CUDA out of memory"}
    running = {"id": "p-1", "status": "starting", "output": None}
    replicate_post(
        mock, "provider", "text-to-video", False, failed if when == "first-answer" else running
    )
    poll = mock.get("https://api.replicate.com/v1/predictions/p-1").mock(
        side_effect=answers(failed)
    )
    with pytest.raises(InferenceJobError, match="CUDA out of memory") as info:
        await call(flavour, "text_to_video", "a dog", provider="replicate", key="provider")
    assert (info.value.provider, info.value.job_id, info.value.status) == (
        "replicate",
        "p-1",
        "failed",
    )
    assert poll.call_count == (0 if when == "first-answer" else 1)
    assert len(mock.calls) == 2 + poll.call_count  # nothing is downloaded


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    "output",
    [
        "hello",
        ["hello", "ignored"],
        {"transcription": "hello", "segments": []},
        {"translation": "hello"},
        [{"transcription": "hello"}],
        {"txt_file": MEDIA_URL},
    ],
    ids=["str", "list", "transcription", "translation", "list-of-dict", "txt_file"],
)
async def test_replicate_asr_output_shapes(
    output: Any, flavour: str, mock: respx.MockRouter
) -> None:
    answer = {"id": "p-1", "status": "succeeded", "output": output}
    replicate_post(mock, "provider", "automatic-speech-recognition", False, answer)
    text_file = mock_download(mock, b"hello", "text/plain")  # fetched only for `txt_file`
    out = await call(
        flavour, "automatic_speech_recognition", AUDIO, provider="replicate", key="provider"
    )
    assert isinstance(out, hfinfer.AutomaticSpeechRecognitionOutput)
    assert out.text == "hello"
    assert text_file.call_count == (1 if "txt_file" in output else 0)
