"""A local Ray cluster for the Ray tests: 2 CPUs, on 127.0.0.1, its files in the test's folder.

Settings from the Ray fact sheet: single-node mode binds every Ray process to loopback
(`RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`), HOME and the temp folder keep `~/.ray/auth_token` and
the session logs inside the test's own folder, usage stats are off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.batch.conftest import clean_env, fast_waits, server  # noqa: F401 - fixtures

_RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
}


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    home = tmp_path_factory.mktemp("rayhome")
    saved = {k: os.environ.get(k) for k in [*_RAY_ENV, "HOME"]}
    os.environ.update(_RAY_ENV)
    os.environ["HOME"] = str(home)
    context = ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=str(home / "ray"),
        log_to_driver=False,
    )
    try:
        yield context
    finally:
        ray.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
