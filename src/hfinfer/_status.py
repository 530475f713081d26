"""`ModelStatus`: the state of a model on the serverless Inference API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ModelStatus:
    """Whether a model is loaded on the Inference API, its state, compute and framework.

    `state` is one of 'Loaded', 'Loadable', 'TooBig'. A 'Loadable' model is loaded on its first
    request, which therefore takes longer.
    """

    loaded: bool
    state: str
    compute_type: dict[str, Any]
    framework: str
