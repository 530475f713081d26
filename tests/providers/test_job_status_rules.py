"""How a job reads an answer that has no status: a pending job where the provider's data says an
absent status means "still running" (together's videos), an error naming the answer elsewhere
(wavespeed) — never a silent poll until the timeout."""

from __future__ import annotations

import httpx
import pytest
import respx
from test_provider_contracts import FLAVOURS, PROVIDER_ID

from hfinfer import InferenceJobError
from tests.providers.media_helpers import (
    MEDIA_URL,
    VIDEO,
    answers,
    call,
    fast_jobs,
    mock_download,
    mock_mapping,
)

__all__ = ["fast_jobs"]  # autouse: polls at once here too

POLL = "https://api.wavespeed.ai/api/v3/predictions/ws-1/result"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_an_answer_without_status_is_an_error_naming_it(
    flavour: str, mock: respx.MockRouter
) -> None:
    mock_mapping(mock, "wavespeed", "text-to-video")
    submitted = {"data": {"id": "ws-1", "status": "created", "urls": {"get": POLL}}}
    mock.post(f"https://api.wavespeed.ai/api/v3/{PROVIDER_ID}").mock(
        return_value=httpx.Response(200, json=submitted)
    )
    poll = mock.get(POLL).mock(side_effect=answers({"code": 500, "message": "internal"}))
    with pytest.raises(InferenceJobError, match=r"unknown status None.*internal") as info:
        await call(flavour, "text_to_video", "a dog", provider="wavespeed", key="provider")
    assert (info.value.job_id, info.value.status) == ("ws-1", None)
    assert poll.call_count == 1  # no further polls


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_an_answer_without_status_is_pending_where_the_data_says_so(
    flavour: str, mock: respx.MockRouter
) -> None:
    mock_mapping(mock, "together", "text-to-video")
    url = "https://api.together.xyz/v2/videos"
    mock.post(url).mock(return_value=httpx.Response(200, json={"id": "v-1"}))  # no status
    done = {"id": "v-1", "status": "completed", "outputs": {"video_url": MEDIA_URL}}
    poll = mock.get(f"{url}/v-1").mock(side_effect=answers({"id": "v-1"}, done))
    download = mock_download(mock, VIDEO, "video/mp4")
    out = await call(flavour, "text_to_video", "a dog", provider="together", key="provider")
    assert out == VIDEO
    assert (poll.call_count, download.call_count) == (2, 1)
