"""Contract of the tasks added as schema folders alone, against a URL endpoint (an Inference
Endpoint or any hf-style server): text_to_video, image_to_video, image_text_to_image,
zero_shot_object_detection and depth_estimation.

Each call goes through both clients (sync and async) with the endpoint given per call and on the
client: the exact request (method, URL, headers, JSON or raw body), the typed result, bad
arguments rejected before any request, and the server's errors surfacing as typed errors.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from contract_helpers import FLAVOURS, IMAGE, b64, call, only_request, png_bytes
from PIL import Image

import hfinfer

ENDPOINT_URL = "https://my-endpoint.example/"
LOCAL_URL = "http://127.0.0.1:8080/"
FILE_URL = "http://files.test/frame.png"
# The endpoint given per call (`model=`) or to the client (`InferenceClient(url)`).
TARGETS = [
    pytest.param(ENDPOINT_URL, "per-call", id="per-call"),
    pytest.param(LOCAL_URL, "client", id="client"),
]

VIDEO = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41\x00\xff\x00fake-mdat"
EDITED = png_bytes((7, 5), color=(10, 20, 200))
DEPTH_PNG = png_bytes((4, 3), mode="L", color=128)
DEPTH = [[0.5, 1.25, 2.0, 3.5], [0.75, 1.5, 2.25, 4.0], [1.0, 1.75, 2.5, 4.5]]
DETECTIONS = [
    {"score": 0.287, "label": "cat", "box": {"xmin": 324, "ymin": 20, "xmax": 640, "ymax": 373}},
    {"score": 0.254, "label": "remote control",
     "box": {"xmin": 40, "ymin": 72, "xmax": 177, "ymax": 115}},
]  # fmt: skip


# -- the checks of each result ------------------------------------------------------------------


def check_video(out: Any) -> None:
    assert type(out) is bytes
    assert out == VIDEO


def check_edited(out: Any) -> None:
    assert isinstance(out, Image.Image)
    assert out.size == (7, 5)
    assert out.convert("RGB").getpixel((0, 0)) == (10, 20, 200)


def check_detections(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.ZeroShotObjectDetectionOutputElement) for x in out)
    assert all(isinstance(x.box, hfinfer.ZeroShotObjectDetectionBoundingBox) for x in out)
    assert [(x.label, x.score) for x in out] == [("cat", 0.287), ("remote control", 0.254)]
    box = out[1].box
    assert (box.xmin, box.ymin, box.xmax, box.ymax) == (40, 72, 177, 115)
    assert out == DETECTIONS  # typed objects are also the dicts the server sent
    assert json.loads(json.dumps(out)) == DETECTIONS


def check_depth(out: Any) -> None:
    assert isinstance(out, hfinfer.DepthEstimationOutput)
    assert out.predicted_depth == DEPTH
    assert out["predicted_depth"] == DEPTH
    assert isinstance(out.depth, Image.Image)
    assert out.depth.size == (4, 3)
    assert out.depth.mode == "L"
    assert out.depth.getpixel((3, 2)) == 128


# -- request → result cases ---------------------------------------------------------------------


@dataclass(frozen=True)
class NewCase:
    """`client.<method>(*args, **kwargs)` against a URL endpoint → this request → this result."""

    id: str
    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    body: Any
    """The expected body: a JSON value (compared after json.loads) or raw `bytes`."""
    response: Any
    """The server's answer: bytes are sent as is, anything else as JSON."""
    check: Callable[[Any], None]
    accept: str = "*/*"
    client_kwargs: dict[str, Any] = field(default_factory=dict)

    def reply(self) -> httpx.Response:
        if isinstance(self.response, bytes):
            return httpx.Response(200, content=self.response)
        return httpx.Response(200, json=self.response)


CASES = [
    # text_to_video: always JSON, `{"inputs": prompt, "parameters": {...}}`; the answer is the video.
    NewCase("text_to_video-prompt-only", "text_to_video", ("A cat surfing a wave",), {},
            {"inputs": "A cat surfing a wave"}, VIDEO, check_video),
    NewCase("text_to_video-all-parameters", "text_to_video", ("A cat surfing a wave",),
            {"guidance_scale": 7.5, "negative_prompt": ["blurry", "low quality"],
             "num_frames": 49, "num_inference_steps": 25, "seed": 42},
            {"inputs": "A cat surfing a wave",
             "parameters": {"guidance_scale": 7.5, "negative_prompt": ["blurry", "low quality"],
                            "num_frames": 49, "num_inference_steps": 25, "seed": 42}},
            VIDEO, check_video),
    NewCase("text_to_video-negative-prompt-tuple", "text_to_video", ("A cat",),
            {"negative_prompt": ("dark",), "num_frames": 16.0, "seed": None},
            {"inputs": "A cat", "parameters": {"negative_prompt": ["dark"], "num_frames": 16.0}},
            VIDEO, check_video),
    # image_to_video: the raw image without parameters, else JSON with the image in base64.
    NewCase("image_to_video-raw", "image_to_video", (IMAGE,), {}, IMAGE, VIDEO, check_video),
    NewCase("image_to_video-all-parameters", "image_to_video", (IMAGE,),
            {"prompt": "The cat starts to dance", "negative_prompt": "static",
             "num_frames": 81, "num_inference_steps": 30, "guidance_scale": 5.0, "seed": 7,
             "target_size": hfinfer.ImageToVideoTargetSize(height=480, width=832)},
            {"inputs": b64(IMAGE),
             "parameters": {"prompt": "The cat starts to dance", "negative_prompt": "static",
                            "num_frames": 81, "num_inference_steps": 30, "guidance_scale": 5.0,
                            "seed": 7, "target_size": {"height": 480, "width": 832}}},
            VIDEO, check_video),
    NewCase("image_to_video-target-size-dict-and-kwargs", "image_to_video", (IMAGE,),
            {"target_size": {"width": 640, "height": 360}, "fps": 24, "loop": None},
            {"inputs": b64(IMAGE),
             "parameters": {"target_size": {"width": 640, "height": 360}, "fps": 24}},
            VIDEO, check_video),
    NewCase("image_to_video-kwargs-only", "image_to_video", (IMAGE,), {"fps": 24},
            {"inputs": b64(IMAGE), "parameters": {"fps": 24}}, VIDEO, check_video),
    # image_text_to_image: as image_to_image (raw-or-json, Accept: image/png, a PIL result).
    NewCase("image_text_to_image-raw", "image_text_to_image", (IMAGE,), {}, IMAGE, EDITED,
            check_edited, accept="image/png"),
    NewCase("image_text_to_image-prompt", "image_text_to_image", (IMAGE, "Make the sky purple"),
            {}, {"inputs": b64(IMAGE), "parameters": {"prompt": "Make the sky purple"}},
            EDITED, check_edited, accept="image/png"),
    NewCase("image_text_to_image-all-parameters", "image_text_to_image",
            (IMAGE, "Make the sky purple"),
            {"negative_prompt": "clouds", "num_inference_steps": 28, "guidance_scale": 3.5,
             "target_size": {"width": 1024, "height": 768}, "seed": 3, "strength": 0.8},
            {"inputs": b64(IMAGE),
             "parameters": {"prompt": "Make the sky purple", "negative_prompt": "clouds",
                            "num_inference_steps": 28, "guidance_scale": 3.5,
                            "target_size": {"width": 1024, "height": 768}, "seed": 3,
                            "strength": 0.8}},
            EDITED, check_edited, accept="image/png"),
    # zero_shot_object_detection: always JSON, the labels in the parameters.
    NewCase("zero_shot_object_detection", "zero_shot_object_detection",
            (IMAGE, ["cat", "remote control"]), {},
            {"inputs": b64(IMAGE), "parameters": {"candidate_labels": ["cat", "remote control"]}},
            DETECTIONS, check_detections),
    NewCase("zero_shot_object_detection-keyword-labels", "zero_shot_object_detection", (IMAGE,),
            {"candidate_labels": ("cat",)},
            {"inputs": b64(IMAGE), "parameters": {"candidate_labels": ["cat"]}},
            DETECTIONS, check_detections),
    # depth_estimation: the raw image; a JSON answer with the depth as numbers and as an image.
    NewCase("depth_estimation", "depth_estimation", (IMAGE,), {}, IMAGE,
            {"predicted_depth": DEPTH, "depth": b64(DEPTH_PNG)}, check_depth),
]  # fmt: skip


async def send(flavour: str, url: str, target: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call `method` with the endpoint given per call or to the client."""
    if target == "client":
        return await call(flavour, method, *args, client_kwargs={"model": url}, **kwargs)
    return await call(flavour, method, *args, model=url, **kwargs)


@pytest.mark.parametrize(("url", "target"), TARGETS)
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
async def test_request_and_typed_result(
    case: NewCase, flavour: str, url: str, target: str, mock: respx.MockRouter
) -> None:
    route = mock.post(url).mock(return_value=case.reply())
    result = await send(flavour, url, target, case.method, *case.args, **case.kwargs)
    request = only_request(route)
    assert len(mock.calls) == 1
    assert request.method == "POST"
    assert str(request.url) == url
    assert request.headers["accept"] == case.accept
    assert request.headers["user-agent"].startswith("hfinfer/")
    assert "authorization" not in request.headers
    assert "x-hf-bill-to" not in request.headers
    if isinstance(case.body, bytes):
        assert request.content == case.body
        assert "content-type" not in request.headers  # raw bytes: no MIME type is guessed
    else:
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == case.body
    case.check(result)


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_token_goes_to_the_endpoint_it_was_given_for(
    flavour: str, mock: respx.MockRouter
) -> None:
    route = mock.post(ENDPOINT_URL).mock(return_value=httpx.Response(200, content=VIDEO))
    out = await call(
        flavour, "text_to_video", "A cat", model=ENDPOINT_URL,
        client_kwargs={"token": "hf_endpoint_token"},
    )  # fmt: skip
    check_video(out)
    assert only_request(route).headers["authorization"] == "Bearer hf_endpoint_token"


# -- every kind of image input reaches the wire as the same bytes -------------------------------

# method, arguments after the image, keyword arguments, response, how the image is sent
IMAGE_METHODS: list[tuple[str, tuple[Any, ...], dict[str, Any], Any, str]] = [
    ("image_to_video", (), {}, VIDEO, "raw"),
    ("image_to_video", (), {"prompt": "Animate it"}, VIDEO, "json"),
    ("image_text_to_image", ("Make it blue",), {}, EDITED, "json"),
    ("zero_shot_object_detection", (["cat"],), {}, DETECTIONS, "json"),
    ("depth_estimation", (), {}, {"predicted_depth": DEPTH, "depth": b64(DEPTH_PNG)}, "raw"),
]


def sent_image(request: httpx.Request, how: str) -> bytes:
    if how == "raw":
        return request.content
    return base64.b64decode(json.loads(request.content)["inputs"], validate=True)


def reply(response: Any) -> httpx.Response:
    if isinstance(response, bytes):
        return httpx.Response(200, content=response)
    return httpx.Response(200, json=response)


@pytest.mark.parametrize("kind", ["path", "str-path", "file", "url", "pil"])
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "more", "kwargs", "response", "how"),
    [pytest.param(*m, id=f"{m[0]}-{m[4]}") for m in IMAGE_METHODS],
)
async def test_image_inputs_of_every_kind(
    method: str,
    more: tuple[Any, ...],
    kwargs: dict[str, Any],
    response: Any,
    how: str,
    flavour: str,
    kind: str,
    tmp_path: Path,
    mock: respx.MockRouter,
) -> None:
    file = tmp_path / "frame.png"
    file.write_bytes(IMAGE)
    mock.get(FILE_URL).mock(return_value=httpx.Response(200, content=IMAGE))
    route = mock.post(LOCAL_URL).mock(return_value=reply(response))
    expected = IMAGE
    if kind == "file":
        with file.open("rb") as handle:
            await call(flavour, method, handle, *more, model=LOCAL_URL, **kwargs)
    else:
        value: Any = {"path": file, "str-path": str(file), "url": FILE_URL,
                      "pil": Image.open(io.BytesIO(IMAGE))}[kind]  # fmt: skip
        await call(flavour, method, value, *more, model=LOCAL_URL, **kwargs)
    sent = sent_image(only_request(route), how)
    if kind == "pil":  # saved again by PIL: the same pixels, as a PNG
        image = Image.open(io.BytesIO(sent))
        assert image.format == "PNG"
        assert image.tobytes() == Image.open(io.BytesIO(expected)).tobytes()
    else:
        assert sent == expected


# -- bad arguments are rejected before any request ----------------------------------------------

# method, positional arguments, keyword arguments, the parameter the error names
INPUT_ERRORS: list[tuple[str, tuple[Any, ...], dict[str, Any], str]] = [
    ("text_to_video", (123,), {}, "prompt"),
    ("text_to_video", (None,), {}, "prompt"),
    ("text_to_video", ("A cat",), {"negative_prompt": "blurry"}, "negative_prompt"),
    ("text_to_video", ("A cat",), {"negative_prompt": ["ok", 3]}, "negative_prompt"),
    ("text_to_video", ("A cat",), {"num_frames": "many"}, "num_frames"),
    ("text_to_video", ("A cat",), {"num_inference_steps": 0}, "num_inference_steps"),
    ("text_to_video", ("A cat",), {"num_inference_steps": 2.5}, "num_inference_steps"),
    ("text_to_video", ("A cat",), {"seed": "42"}, "seed"),
    ("text_to_video", ("A cat",), {"guidance_scale": "high"}, "guidance_scale"),
    ("image_to_video", (None,), {}, "image"),
    ("image_to_video", (12345,), {}, "image"),
    ("image_to_video", ("/no/such/frame.png",), {}, "image"),
    ("image_to_video", (IMAGE,), {"target_size": "480x832"}, "target_size"),
    ("image_to_video", (IMAGE,), {"negative_prompt": ["static"]}, "negative_prompt"),
    ("image_to_video", (IMAGE,), {"seed": 1.5}, "seed"),
    ("image_text_to_image", (IMAGE, 42), {}, "prompt"),
    ("image_text_to_image", (None, "Make it blue"), {}, "image"),
    ("image_text_to_image", (IMAGE, "x"), {"num_inference_steps": 0}, "num_inference_steps"),
    ("image_text_to_image", (IMAGE, "x"), {"target_size": [1024, 768]}, "target_size"),
    ("zero_shot_object_detection", (IMAGE, None), {}, "candidate_labels"),
    ("zero_shot_object_detection", (IMAGE, []), {}, "candidate_labels"),
    ("zero_shot_object_detection", (IMAGE, "cat"), {}, "candidate_labels"),
    ("zero_shot_object_detection", (IMAGE, ["cat", 7]), {}, "candidate_labels"),
    ("zero_shot_object_detection", (None, ["cat"]), {}, "image"),
    ("depth_estimation", (None,), {}, "image"),
    ("depth_estimation", (b"png", "extra"), {}, ""),  # a second positional argument
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "args", "kwargs", "parameter"),
    [pytest.param(*e, id=f"{e[0]}-{e[3] or 'positional'}-{i}") for i, e in enumerate(INPUT_ERRORS)],
)
async def test_bad_arguments_raise_before_any_request(
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    parameter: str,
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    route = mock.post(LOCAL_URL).mock(return_value=httpx.Response(200, content=VIDEO))
    if not parameter:
        with pytest.raises(TypeError):
            await call(flavour, method, *args, model=LOCAL_URL, **kwargs)
    else:
        with pytest.raises(hfinfer.InferenceInputError) as info:
            await call(flavour, method, *args, model=LOCAL_URL, **kwargs)
        assert info.value.method == method
        assert info.value.parameter == parameter
        assert f"`{parameter}`" in str(info.value)
    assert not route.called
    assert len(mock.calls) == 0


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_candidate_labels_are_required(flavour: str, mock: respx.MockRouter) -> None:
    route = mock.post(LOCAL_URL).mock(return_value=httpx.Response(200, json=DETECTIONS))
    with pytest.raises(TypeError, match="candidate_labels"):
        await call(flavour, "zero_shot_object_detection", IMAGE, model=LOCAL_URL)
    assert not route.called


# -- the server's errors surface as typed errors ------------------------------------------------

# one valid call per method
CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("text_to_video", ("A cat",), {"num_frames": 16}),
    ("image_to_video", (IMAGE,), {}),
    ("image_to_video", (IMAGE,), {"prompt": "dance"}),
    ("image_text_to_image", (IMAGE, "Make it blue"), {}),
    ("zero_shot_object_detection", (IMAGE, ["cat"]), {}),
    ("depth_estimation", (IMAGE,), {}),
]
CALL_PARAMS = [pytest.param(*c, id=f"{c[0]}-{i}") for i, c in enumerate(CALLS)]


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, hfinfer.BadRequestError), (422, hfinfer.HfHubHTTPError),
     (500, hfinfer.HfHubHTTPError)],
)  # fmt: skip
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("method", "args", "kwargs"), CALL_PARAMS)
async def test_server_error_surfaces(
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flavour: str,
    status: int,
    error_class: type[Exception],
    mock: respx.MockRouter,
) -> None:
    body = {"error": f"{method} failed: CUDA out of memory"}
    route = mock.post(ENDPOINT_URL).mock(
        return_value=httpx.Response(status, json=body, headers={"x-request-id": "req-123"})
    )
    with pytest.raises(hfinfer.HfHubHTTPError) as info:
        await call(flavour, method, *args, model=ENDPOINT_URL, **kwargs)
    error = info.value
    assert type(error) is error_class
    assert isinstance(error, httpx.HTTPStatusError)
    assert error.status_code == status
    assert error.server_message == body["error"]
    assert error.request_id == "req-123"
    assert body["error"] in str(error)
    assert route.call_count == 1  # max_retries=0: one attempt


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("method", "args", "kwargs"), CALL_PARAMS)
async def test_server_errors_are_retried_then_surface(
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    flavour: str,
    mock: respx.MockRouter,
) -> None:
    route = mock.post(ENDPOINT_URL).mock(
        return_value=httpx.Response(
            502, json={"error": "bad gateway"}, headers={"retry-after": "0"}
        )
    )
    with pytest.raises(hfinfer.HfHubHTTPError) as info:
        await call(flavour, method, *args, model=ENDPOINT_URL, max_retries=1)
    assert info.value.status_code == 502
    assert info.value.attempts == 2
    assert route.call_count == 2


# a success status with a body that is not what the method returns
BAD_ANSWERS: list[tuple[str, tuple[Any, ...], httpx.Response]] = [
    ("image_text_to_image", (IMAGE, "Make it blue"), httpx.Response(200, content=b"not an image")),
    ("zero_shot_object_detection", (IMAGE, ["cat"]), httpx.Response(200, content=b"{oops")),
    ("zero_shot_object_detection", (IMAGE, ["cat"]), httpx.Response(200, json={"label": "cat"})),
    ("depth_estimation", (IMAGE,), httpx.Response(200, json=[1, 2])),
    ("depth_estimation", (IMAGE,), httpx.Response(200, json={"depth": "!!not base64!!"})),
]


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(
    ("method", "args", "answer"),
    [pytest.param(*b, id=f"{b[0]}-{i}") for i, b in enumerate(BAD_ANSWERS)],
)
async def test_undecodable_answer_is_a_decode_error(
    method: str, args: tuple[Any, ...], answer: httpx.Response, flavour: str, mock: respx.MockRouter
) -> None:
    mock.post(LOCAL_URL).mock(return_value=answer)
    with pytest.raises(hfinfer.InferenceDecodeError):
        await call(flavour, method, *args, model=LOCAL_URL)
