"""Contract of replicate's predictions, the (provider, task) pairs of replicate — speech
recognition, image to image, text to image, text to speech, text to video — sync and async,
Hugging Face token (the router) and provider key (api.replicate.com), by model and by version:
the `Prefer: wait` submit POST, the polls of a prediction still running (URL and auth), the media
download (no authorization), the typed result, input URLs passed as they are, failed predictions
and the output shapes of speech recognition.

The poll intervals are shrunk to 0 (`fast_jobs`); the shared helpers are in media_helpers.py; the
expectations come from the fact sheet (§4, §5), not from the generated table.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, KEYS, PROVIDER_ID, check_lookup

import hfinfer
from hfinfer import InferenceJobError
from tests.providers.media_helpers import (
    AUDIO,
    IMAGE_URL,
    MEDIA_URL,
    PNG,
    REPLICATE_TASKS,
    VIDEO,
    Case,
    answers,
    auth,
    base,
    call,
    check_download,
    check_gets,
    check_png,
    check_post,
    check_result,
    data_url,
    fast_jobs,
    mock_download,
    mock_mapping,
    source_of,
)

__all__ = ["fast_jobs"]  # autouse: every job here polls at once


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
