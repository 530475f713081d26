"""Contract of together's videos, wavespeed's and zai-org's jobs, of a made-up provider added as a
data file alone, and the check that every media pair has a contract (fal's queue and replicate:
test_provider_jobs_fal.py and test_provider_jobs_replicate.py; the shared helpers, with the
`fast_jobs` fixture that shrinks every poll interval here too, in media_helpers.py)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, KEYS, PROVIDER_ID, ROUTER, check_lookup

import hfinfer
from hfinfer import InferenceJobError, _providers
from tests.providers.media_helpers import (
    MEDIA_URL,
    PAIRS,
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
    fast_jobs,
    mock_download,
    mock_mapping,
    source_of,
)

__all__ = ["fast_jobs"]  # autouse: collected from this module too

ROOT = Path(__file__).resolve().parents[2]
"""The repository, whose schemas/ the made-up provider is added to (in a copy)."""

# -- together's videos ----------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize(
    ("task", "source"),
    [("text-to-video", "-"), ("image-to-video", "bytes"), ("image-to-video", "url")],
)
async def test_together_video(
    task: str, source: str, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    lookup = mock_mapping(mock, "together", task)
    url = base("together", key) + "/v2/videos"
    post = mock.post(url).mock(
        return_value=httpx.Response(200, json={"id": "vid-1", "status": "queued"})
    )
    poll = mock.get(f"{url}/vid-1").mock(side_effect=answers(
        {"id": "vid-1", "status": "in_progress"},
        {"id": "vid-1", "status": "completed", "outputs": {"video_url": MEDIA_URL, "cost": 1}},
    ))  # fmt: skip
    download = mock_download(mock, VIDEO, "video/mp4")
    if task == "text-to-video":
        out = await call(
            flavour,
            "text_to_video",
            "a dog",
            provider="together",
            key=key,
            num_inference_steps=10,
            seed=3,
        )
        expected = {"model": PROVIDER_ID, "prompt": "a dog", "steps": 10, "seed": 3}
    else:
        image, sent = source_of(source, "image/png")
        out = await call(
            flavour,
            "image_to_video",
            image,
            provider="together",
            key=key,
            prompt="wave",
            target_size={"width": 640, "height": 320},
        )
        expected = {
            "model": PROVIDER_ID,
            "frame_images": [{"input_image": sent, "frame": "first"}],
            "prompt": "wave",
            "width": 640,
            "height": 320,
        }
    body = check_post(post, url, auth("together", key))
    assert body == expected
    assert next(iter(body)) == "model"
    check_gets(poll, f"{url}/vid-1", auth("together", key), 2)
    check_download(download)
    check_lookup(lookup, key)
    assert len(mock.calls) == 5  # an input URL is never downloaded
    assert out == VIDEO


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_together_failed_video(flavour: str, mock: respx.MockRouter) -> None:
    mock_mapping(mock, "together", "text-to-video")
    url = "https://api.together.xyz/v2/videos"
    mock.post(url).mock(return_value=httpx.Response(200, json={"id": "vid-1", "status": "queued"}))
    failed = {
        "id": "vid-1",
        "status": "failed",
        "error": {"code": "x", "message": "prompt rejected"},
    }
    mock.get(f"{url}/vid-1").mock(side_effect=answers(failed))
    with pytest.raises(InferenceJobError, match="prompt rejected") as info:
        await call(flavour, "text_to_video", "a dog", provider="together", key="provider")
    assert (info.value.job_id, info.value.status, info.value.status_url) == (
        "vid-1",
        "failed",
        f"{url}/vid-1",
    )


# -- wavespeed ------------------------------------------------------------------------------


def wavespeed_case(task: str, source: str) -> Case:
    image, sent = source_of(source, "image/jpeg")
    cases = {
        "text-to-image": Case("text_to_image", ("a red square",), {"width": 640, "height": 320, "num_inference_steps": 4},
                              {"prompt": "a red square", "width": 640, "height": 320, "num_inference_steps": 4}, None, PNG),
        "text-to-video": Case("text_to_video", ("a dog",), {"num_frames": 16},
                              {"prompt": "a dog", "num_frames": 16}, None, VIDEO),
        "image-to-image": Case("image_to_image", (image, "make it blue"), {},
                               {"image": sent, "prompt": "make it blue"}, None, PNG),
        "image-to-video": Case("image_to_video", (image,), {"prompt": "wave"},
                               {"image": sent, "prompt": "wave"}, None, VIDEO),
    }  # fmt: skip
    return cases[task]


WAVESPEED_RESULT = "https://api.wavespeed.ai/api/v3/predictions/ws-1/result"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize(
    ("task", "source"),
    [
        ("text-to-image", "-"),
        ("text-to-video", "-"),
        ("image-to-image", "bytes"),
        ("image-to-image", "url"),
        ("image-to-video", "bytes"),
        ("image-to-video", "url"),
    ],
)
async def test_wavespeed(
    task: str, source: str, key: str, flavour: str, mock: respx.MockRouter
) -> None:
    case = wavespeed_case(task, source)
    lookup = mock_mapping(mock, "wavespeed", task)
    url = f"{base('wavespeed', key)}/api/v3/{PROVIDER_ID}"
    submitted = {
        "code": 200,
        "data": {
            "id": "ws-1",
            "status": "created",
            "outputs": [],
            "urls": {"get": WAVESPEED_RESULT},
        },
    }
    post = mock.post(url).mock(return_value=httpx.Response(200, json=submitted))
    poll_url = f"{base('wavespeed', key)}/api/v3/predictions/ws-1/result"  # the path of urls.get
    poll = mock.get(poll_url).mock(side_effect=answers(
        {"code": 200, "data": {"id": "ws-1", "status": "processing", "outputs": []}},
        {"code": 200, "data": {"id": "ws-1", "status": "completed", "outputs": [MEDIA_URL]}},
    ))  # fmt: skip
    download = mock_download(mock, case.media or b"", "application/octet-stream")
    out = await call(flavour, case.method, *case.args, provider="wavespeed", key=key, **case.kwargs)
    assert check_post(post, url, auth("wavespeed", key)) == case.body
    check_gets(poll, poll_url, auth("wavespeed", key), 2)
    check_download(download)
    check_lookup(lookup, key)
    assert len(mock.calls) == 5
    check_result(case, out)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_wavespeed_failed_job(flavour: str, mock: respx.MockRouter) -> None:
    mock_mapping(mock, "wavespeed", "text-to-image")
    url = f"https://api.wavespeed.ai/api/v3/{PROVIDER_ID}"
    submitted = {"data": {"id": "ws-1", "status": "created", "urls": {"get": WAVESPEED_RESULT}}}
    mock.post(url).mock(return_value=httpx.Response(200, json=submitted))
    failed = {"data": {"id": "ws-1", "status": "failed", "error": "nsfw content", "outputs": []}}
    mock.get(WAVESPEED_RESULT).mock(side_effect=answers(failed))
    with pytest.raises(InferenceJobError, match="nsfw content") as info:
        await call(flavour, "text_to_image", "a cat", provider="wavespeed", key="provider")
    assert (info.value.provider, info.value.job_id, info.value.status) == (
        "wavespeed",
        "ws-1",
        "failed",
    )


# -- zai-org --------------------------------------------------------------------------------

ZAI_HEADERS = {"accept-language": "en-US,en", "x-source-channel": "hugging_face"}


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_zai_text_to_image(
    key: str, flavour: str, mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hfinfer._generated.providers import PROVIDERS

    monkeypatch.setitem(_providers.TABLE, "zai-org", PROVIDERS["zai-org"])  # its real 5 s interval
    lookup = mock_mapping(mock, "zai-org", "text-to-image")
    url = base("zai-org", key) + "/api/paas/v4/async/images/generations"
    submitted = {
        "id": "z-1",
        "request_id": "r-1",
        "task_status": "PROCESSING",
        "model": PROVIDER_ID,
    }
    post = mock.post(url).mock(return_value=httpx.Response(200, json=submitted))
    poll_url = base("zai-org", key) + "/api/paas/v4/async-result/z-1"
    done = {"task_status": "SUCCESS", "image_result": [{"url": MEDIA_URL}]}
    poll = mock.get(poll_url).mock(side_effect=answers(done))
    download = mock_download(mock, PNG, "image/png")
    started = time.monotonic()
    out = await call(
        flavour, "text_to_image", "a red square", provider="zai-org", key=key, width=640, height=320
    )
    assert time.monotonic() - started < 2.5  # the first poll is immediate, not after 5 s
    body = check_post(post, url, auth("zai-org", key), {**ZAI_HEADERS, "accept": "image/png"})
    assert body == {"model": PROVIDER_ID, "prompt": "a red square", "size": "640x320"}
    assert next(iter(body)) == "model"
    check_gets(poll, poll_url, auth("zai-org", key), 1, ZAI_HEADERS)
    check_download(download)
    check_lookup(lookup, key)
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_zai_failed_job(flavour: str, mock: respx.MockRouter) -> None:
    mock_mapping(mock, "zai-org", "text-to-image")
    url = "https://api.z.ai/api/paas/v4/async/images/generations"
    submitted = {"id": "z-1", "task_status": "PROCESSING"}
    mock.post(url).mock(return_value=httpx.Response(200, json=submitted))
    failed = {"task_status": "FAIL", "error": {"code": "1301", "message": "unsafe prompt"}}
    mock.get("https://api.z.ai/api/paas/v4/async-result/z-1").mock(side_effect=answers(failed))
    with pytest.raises(InferenceJobError, match="unsafe prompt") as info:
        await call(flavour, "text_to_image", "a cat", provider="zai-org", key="provider")
    assert (info.value.provider, info.value.status) == ("zai-org", "FAIL")


# -- a provider added as a data file alone --------------------------------------------------

ACME_MEDIA = {
    "router": "acme-media",
    "base_url": "https://api.acme-media.test",
    "tasks": {
        "text-to-image": {
            "kind": "job",
            "route": "/v1/render/{model}",
            "input": "prompt",
            "size": {"key": "resolution", "style": "x"},
            "job": {
                "id": "job.ref",
                "status_url": "{base}/v1/jobs/{id}",
                "status": "job.state",
                "pending": ["WAITING", "RENDERING"],
                "done": ["READY"],
                "failed": ["BROKEN"],
                "error": "job.why",
                "interval": 0.001,
                "max_polls": 5,
            },
            "response": {"select": "job.artifact", "media": "url"},
        }
    },
}


@pytest.fixture(scope="module")
def acme_source(tmp_path_factory: pytest.TempPathFactory) -> str:
    """generated/providers.py for a copy of schemas/ plus acme-media.json (built once)."""
    from codegen.pipeline import build

    schemas = tmp_path_factory.mktemp("acme") / "schemas"
    shutil.copytree(ROOT / "schemas", schemas, ignore=shutil.ignore_patterns("__pycache__"))
    path = schemas / "providers" / "acme-media.json"
    path.write_text(json.dumps(ACME_MEDIA), encoding="utf-8")
    return build(schemas)["providers.py"]


@pytest.fixture
def acme_table(acme_source: str) -> Iterator[None]:
    """That table installed for the test; the real one afterwards."""
    namespace: dict[str, Any] = {}
    exec(compile(acme_source, "providers.py", "exec"), namespace)
    assert "acme-media" in namespace["PROVIDERS"]
    _providers.install(namespace["PROVIDERS"])
    try:
        yield
    finally:
        _providers.install(hfinfer._generated.providers.PROVIDERS)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_a_provider_added_as_data_alone(
    key: str, flavour: str, mock: respx.MockRouter, acme_table: None
) -> None:
    lookup = mock_mapping(mock, "acme-media", "text-to-image")
    api = f"{ROUTER}/acme-media" if key == "hf" else "https://api.acme-media.test"
    url = f"{api}/v1/render/{PROVIDER_ID}"
    post = mock.post(url).mock(
        return_value=httpx.Response(202, json={"job": {"ref": 42, "state": "WAITING"}})
    )
    poll = mock.get(f"{api}/v1/jobs/42").mock(side_effect=answers(
        {"job": {"state": "RENDERING"}}, {"job": {"state": "READY", "artifact": MEDIA_URL}},
    ))  # fmt: skip
    download = mock_download(mock, PNG, "image/png")
    out = await call(
        flavour,
        "text_to_image",
        "a red square",
        provider="acme-media",
        key=key,
        width=640,
        height=320,
        seed=1,
    )
    body = check_post(post, url, f"Bearer {KEYS[key]}", {"accept": "image/png"})
    assert body == {"prompt": "a red square", "resolution": "640x320", "seed": 1}
    check_gets(poll, f"{api}/v1/jobs/42", f"Bearer {KEYS[key]}", 2)
    check_download(download)
    check_lookup(lookup, key)
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_data_provider_failed_job(
    flavour: str, mock: respx.MockRouter, acme_table: None
) -> None:
    mock_mapping(mock, "acme-media", "text-to-image")
    url = f"https://api.acme-media.test/v1/render/{PROVIDER_ID}"
    mock.post(url).mock(
        return_value=httpx.Response(
            202, json={"job": {"ref": "j", "state": "BROKEN", "why": "no GPU"}}
        )
    )
    with pytest.raises(InferenceJobError, match="no GPU"):
        await call(flavour, "text_to_image", "a cat", provider="acme-media", key="provider")


# -- coverage -------------------------------------------------------------------------------

JOB_PAIRS = {
    ("fal-ai", t)
    for t in ("image-to-image", "image-to-video", "image-segmentation", "text-to-video")
}
JOB_PAIRS |= {("replicate", t) for t in REPLICATE_TASKS}
JOB_PAIRS |= {
    ("together", "text-to-video"),
    ("together", "image-to-video"),
    ("zai-org", "text-to-image"),
}
JOB_PAIRS |= {
    ("wavespeed", t) for t in ("text-to-image", "text-to-video", "image-to-image", "image-to-video")
}


def test_every_media_pair_has_a_contract() -> None:
    from hfinfer._generated.providers import PROVIDERS

    text = {"chat-completion", "text-generation", "feature-extraction"}
    pairs = {
        (p, t)
        for p, spec in PROVIDERS.items()
        if p != "hf-inference"
        for t in spec.tasks
        if t not in text
    }
    assert pairs == PAIRS | JOB_PAIRS
    assert not PAIRS & JOB_PAIRS
    assert len(pairs) == 26  # with the 22 text pairs: the 48 third-party pairs of 2.4.0 (§2)
