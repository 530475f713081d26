"""When to wait and send again: the model-loading wait and retries with backoff. Pure functions."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_LOADING_WAIT = 10.0
MAX_RETRY_WAIT = 60.0
"""Default cap on a server's Retry-After: above it the call fails at once instead of sleeping."""


class Wait(NamedTuple):
    seconds: float
    loading: bool
    """True for the model-loading wait, which does not count against `max_retries`."""


def is_model_loading(status: int, body: Any) -> bool:
    if status != 503 or not isinstance(body, dict):
        return False
    error = str(body.get("error", "")).lower()
    return "estimated_time" in body or "loading" in error


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` seconds or date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def backoff(retry: int) -> float:
    """Capped exponential backoff with jitter for the n-th retry (1-based)."""
    base: float = min(INITIAL_BACKOFF * 2 ** (retry - 1), MAX_BACKOFF)
    return base * (1 - 0.25 * random.random())


def next_wait(
    *,
    status: int | None,
    headers: Mapping[str, str],
    body: Any,
    retries_done: int,
    max_retries: int,
    remaining: float | None,
    max_retry_wait: float = float("inf"),
) -> Wait | None:
    """How long to wait before sending again, or None to give up.

    `status` None means a connection error. `remaining` is the time left before the client's
    `timeout` (None: no limit); a wait that would not fit is not taken, nor is a server's
    Retry-After above `max_retry_wait` (the caller's bound on any single wait).
    """
    if status is not None and is_model_loading(status, body):
        estimated = body.get("estimated_time") if isinstance(body, dict) else None
        seconds = float(estimated) if isinstance(estimated, (int, float)) and estimated > 0 else 1.0
        return Wait(min(max(seconds, 1.0), MAX_LOADING_WAIT), loading=True)
    if retries_done >= max_retries:
        return None
    if status is not None and status not in RETRY_STATUSES:
        return None
    asked = retry_after(headers) if status is not None else None
    if asked is not None and asked > max_retry_wait:
        return None
    seconds = backoff(retries_done + 1) if asked is None else asked
    if remaining is not None and seconds > remaining:
        return None
    return Wait(seconds, loading=False)
