"""Contract of the image and video (provider, task) pairs that answer at once — fal's, nscale's
and together's text to image, together's image to image, novita's text to video — sync and async,
with a Hugging Face token (the router) and a provider key (the provider's own URL): the exact POST
(method, URL, auth and provider headers, JSON body), the media download it leads to (with no
authorization) or the image inline in the answer, and the typed result.

The audio pairs are in test_provider_media_audio.py, the pairs that run as jobs in
test_provider_jobs_*.py; the shared helpers in media_helpers.py. The expectations are written from
huggingface_hub 2.4.0's wire format (the fact sheet, §3–§5), not read from the generated table, so
a wrong data file fails here.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, KEYS, PROVIDER_ID, check_lookup

from tests.providers.media_helpers import (
    IMAGE_URL,
    INPUT,
    MEDIA_URL,
    PNG,
    VIDEO,
    auth,
    b64,
    base,
    call,
    check_download,
    check_png,
    check_post,
    data_url,
    mock_download,
    mock_mapping,
)

# -- images ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_fal_text_to_image(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "fal-ai", "text-to-image")
    url = f"{base('fal-ai', key)}/{PROVIDER_ID}"
    answer = {"images": [{"url": MEDIA_URL, "width": 3, "height": 2}], "seed": 1}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    download = mock_download(mock, PNG, "image/png")
    out = await call(
        flavour, "text_to_image", "a red square", provider="fal-ai", key=key,
        width=640, height=320, num_inference_steps=4,
    )  # fmt: skip
    body = check_post(post, url, auth("fal-ai", key), {"accept": "image/png"})
    assert body == {
        "prompt": "a red square",
        "image_size": {"width": 640, "height": 320},
        "num_inference_steps": 4,
    }
    check_download(download)
    check_lookup(lookup, key)
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_nscale_text_to_image(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "nscale", "text-to-image")
    url = base("nscale", key) + "/v1/images/generations"
    answer = {"created": 1, "data": [{"b64_json": b64(PNG)}]}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    with pytest.warns(UserWarning, match="num_inference_steps"):
        out = await call(
            flavour, "text_to_image", "a red square", provider="nscale", key=key,
            width=640, height=320, num_inference_steps=4, guidance_scale=3.5,
        )  # fmt: skip
    body = check_post(post, url, auth("nscale", key), {"accept": "image/png"})
    assert body == {
        "response_format": "b64_json",
        "prompt": "a red square",
        "size": "640x320",
        "guidance_scale": 3.5,
        "model": PROVIDER_ID,
    }
    check_lookup(lookup, key)
    assert len(mock.calls) == 2  # no download: the image is in the answer
    check_png(out)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_together_text_to_image(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "together", "text-to-image")
    url = base("together", key) + "/v1/images/generations"
    answer = {"id": "i-1", "data": [{"index": 0, "b64_json": b64(PNG)}]}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    out = await call(
        flavour, "text_to_image", "a red square", provider="together", key=key,
        width=640, height=320, num_inference_steps=4, seed=7,
    )  # fmt: skip
    body = check_post(post, url, auth("together", key), {"accept": "image/png"})
    assert body == {
        "prompt": "a red square",
        "response_format": "base64",
        "width": 640,
        "height": 320,
        "steps": 4,
        "seed": 7,
        "model": PROVIDER_ID,
    }
    assert list(body)[-1] == "model"
    check_lookup(lookup, key)
    check_png(out)


KONTEXT = "black-forest-labs/FLUX.1-Kontext-dev"
FLUX2 = "black-forest-labs/FLUX.2-dev"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("source", ["bytes", "url"])
@pytest.mark.parametrize(("provider_id", "prompt"), [(KONTEXT, None), (KONTEXT, "blue"), (FLUX2, None), (FLUX2, "blue")])  # fmt: skip
async def test_together_image_to_image(
    provider_id: str,
    prompt: str | None,
    source: str,
    key: str,
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    lookup = mock_mapping(mock, "together", "image-to-image", provider_id)
    url = base("together", key) + "/v1/images/generations"
    answer = {"data": [{"b64_json": b64(PNG)}]}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    image = INPUT if source == "bytes" else IMAGE_URL
    out = await call(
        flavour, "image_to_image", image, prompt, provider="together", key=key,
        num_inference_steps=8,
    )  # fmt: skip
    body = check_post(post, url, auth("together", key), {"accept": "image/png"})
    sent = data_url("image/jpeg") if source == "bytes" else IMAGE_URL  # a URL is not downloaded
    if provider_id == KONTEXT:  # FLUX.1 Kontext: one image_url, and a prompt ("" by default)
        expected = {"prompt": prompt or "", "image_url": sent}
    else:
        expected = {"reference_images": [sent], **({"prompt": prompt} if prompt else {})}
    expected |= {"response_format": "base64", "steps": 8, "model": provider_id}
    assert body == expected
    check_lookup(lookup, key)
    assert len(mock.calls) == 2
    check_png(out)


# -- video ----------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("key", sorted(KEYS))
async def test_novita_text_to_video(key: str, flavour: str, mock: respx.MockRouter) -> None:
    lookup = mock_mapping(mock, "novita", "text-to-video")
    url = f"{base('novita', key)}/v3/hf/{PROVIDER_ID}"
    answer = {"video": {"video_url": MEDIA_URL, "video_type": "mp4"}}
    post = mock.post(url).mock(return_value=httpx.Response(200, json=answer))
    download = mock_download(mock, VIDEO, "video/mp4")
    out = await call(
        flavour, "text_to_video", "a dog running", provider="novita", key=key,
        num_frames=16, negative_prompt=["blurry"],
    )  # fmt: skip
    body = check_post(post, url, auth("novita", key))
    assert body == {"prompt": "a dog running", "num_frames": 16, "negative_prompt": ["blurry"]}
    check_download(download)
    check_lookup(lookup, key)
    assert out == VIDEO


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_novita_answer_without_video_url_is_an_error(
    flavour: str, mock: respx.MockRouter
) -> None:
    mock_mapping(mock, "novita", "text-to-video")
    url = f"https://api.novita.ai/v3/hf/{PROVIDER_ID}"
    mock.post(url).mock(return_value=httpx.Response(200, json={"task": {"id": "1"}}))
    with pytest.raises(ValueError):
        await call(flavour, "text_to_video", "a dog", provider="novita", key="provider")
