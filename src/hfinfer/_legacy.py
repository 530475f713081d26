"""`InferenceApi`: the legacy, untyped way to call the serverless Inference API (kept for old code)."""

from __future__ import annotations

import warnings
from typing import Any

import httpx

from hfinfer._config import ClientConfig, hub_endpoint
from hfinfer._core import DEFAULT_MAX_RETRIES
from hfinfer._decoding import open_image
from hfinfer._retry import MAX_RETRY_WAIT
from hfinfer._sending import Outgoing, Policy, send_sync

_IMAGE_TASKS = ("text-to-image", "image-to-image")


class InferenceApi:
    """Calls one model of the serverless Inference API with untyped inputs and outputs.

    Deprecated: use `InferenceClient`, which is typed and works with any endpoint.
    """

    def __init__(
        self, repo_id: str, task: str | None = None, token: str | None = None, gpu: bool = False
    ) -> None:
        warnings.warn(
            "InferenceApi is deprecated; use InferenceClient instead.", FutureWarning, stacklevel=2
        )
        self._config = ClientConfig.build(
            None, token=token, api_key=None, timeout=None, headers=None, cookies=None, proxies=None,
            base_url=None, trust_env=True, max_retries=DEFAULT_MAX_RETRIES,
        )  # fmt: skip
        self.repo_id = repo_id
        self.options: dict[str, Any] = {"wait_for_model": True, "use_gpu": gpu}
        self.headers = dict(self._config.headers)
        if self._config.token.value:
            self.headers["authorization"] = f"Bearer {self._config.token.value}"
        self.task = task or self._task_of(repo_id)
        self.api_url = f"{self._config.inference_endpoint}/pipeline/{self.task}/{repo_id}"
        self._http = httpx.Client(trust_env=True)

    def _task_of(self, repo_id: str) -> str:
        with httpx.Client(trust_env=True) as http:
            response = send_sync(
                http, Outgoing("GET", f"{hub_endpoint()}/api/models/{repo_id}", self.headers),
                Policy(timeout=30, max_retries=DEFAULT_MAX_RETRIES, max_retry_wait=MAX_RETRY_WAIT),
            )  # fmt: skip
        task = response.json().get("pipeline_tag")
        if not task:
            raise ValueError(
                "Task not specified in the repository. Please add it to the model card using pipeline_tag."
            )
        return str(task)

    def __repr__(self) -> str:
        return f"InferenceAPI(api_url='{self.api_url}', task='{self.task}', options={self.options})"

    def __call__(
        self, inputs: str | dict[str, Any] | list[str] | list[list[str]] | None = None,
        params: dict[str, Any] | None = None, data: bytes | None = None, raw_response: bool = False,
    ) -> Any:  # fmt: skip
        """Run inference; returns parsed JSON, a PIL image, raw bytes, or the httpx response."""
        payload: dict[str, Any] = {"options": self.options}
        if inputs is not None:
            payload["inputs"] = inputs
        if params is not None:
            payload["parameters"] = params
        out = Outgoing("POST", self.api_url, self.headers, task=self.task)
        from hfinfer._encoding import Body

        body = Body(content=data) if data is not None else Body(json=payload)
        response = send_sync(
            self._http,
            Outgoing(out.method, out.url, out.headers, body, task=self.task),
            Policy(timeout=None, max_retries=DEFAULT_MAX_RETRIES, max_retry_wait=MAX_RETRY_WAIT),
        )
        if raw_response:
            return response
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("image/"):
            return open_image(response.content)
        if content_type.startswith("application/json"):
            return response.json()
        return response.content
