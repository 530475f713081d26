"""A 100 MB binary body: the right bytes, with peak memory bounded by ~2.5x the body.

The call runs in a fresh interpreter (`big_body_probe.py`) so that `ru_maxrss` measures the
client alone; the server streams the body from this process in 1 MiB chunks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .calls import FLAVOURS, Flavour
from .faultserver import BIG_SIZE, FaultServer, big_digest

PROBE = Path(__file__).with_name("big_body_probe.py")
MEMORY_FACTOR = 2.5


@pytest.fixture(scope="module")
def digest() -> str:
    return big_digest()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_hundred_megabyte_body(server: FaultServer, flavour: Flavour, digest: str) -> None:
    done = subprocess.run(
        [sys.executable, str(PROBE), flavour, server.model_url("ok"), server.model_url("big")],
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["length"] == BIG_SIZE
    assert report["sha256"] == digest
    assert report["peak_delta"] <= MEMORY_FACTOR * BIG_SIZE, (
        f"peak RSS grew by {report['peak_delta'] / 2**20:.0f} MiB for a "
        f"{BIG_SIZE / 2**20:.0f} MiB body"
    )
    assert server.wait_open(0) == 0
    assert server.faults["big"] == 1
