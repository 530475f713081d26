"""Contract of fal's queue, the (provider, task) pairs of fal-ai that run as jobs — image to
image, image to video, image segmentation (its mask inline or to download), text to video — sync
and async, Hugging Face token (the router, `?_subdomain=queue`) and provider key (queue.fal.run):
the submit POST, every status poll and the result GET under the path of the submit answer's
`response_url` (URL and auth), the media download (no authorization), and the typed result.

The poll intervals are shrunk to 0 (`fast_jobs`); the shared helpers are in media_helpers.py; the
expectations come from the fact sheet (§4, §5), not from the generated table.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, KEYS, PROVIDER_ID, ROUTER, check_lookup

from tests.providers.media_helpers import (
    FAL_QUEUE,
    MASK,
    MEDIA_URL,
    PNG,
    VIDEO,
    Case,
    answers,
    auth,
    call,
    check_download,
    check_gets,
    check_post,
    check_result,
    data_url,
    fast_jobs,
    mock_download,
    mock_mapping,
    source_of,
)

__all__ = ["fast_jobs"]  # autouse: every job here polls at once


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
