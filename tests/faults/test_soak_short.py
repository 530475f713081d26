"""The soak (tests/faults/soak.py), short: 300 calls per flavour (sync, aiohttp, httpx-async)."""

from __future__ import annotations

import pytest

from .calls import FLAVOURS
from .soak import run


@pytest.mark.timeout(90)
def test_short_soak() -> None:
    summary = run(calls=300, fault_rate=0.1, concurrency=16, seed=7)
    assert sorted(summary["phases"]) == sorted(FLAVOURS)
    assert summary["calls"] == 300 * len(FLAVOURS)
    assert summary["problems"] == [], summary
    assert summary["ok"]
    assert summary["faults_injected"] > 0
    assert summary["leaked_connections"] == 0
    for phase in summary["phases"].values():
        assert phase["untyped"] == []
        assert phase["wrong_results"] == []
        assert phase["unexpected"] == {}
        assert phase["leaked_connections"] == 0
        assert phase["outcomes"].get("success", 0) >= 0.8 * phase["calls"]
    assert summary["phases"]["sync"]["max_open_connections"] <= 2
