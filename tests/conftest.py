"""Settings for every test: respx mocks at the httpx client level, and sockets stay on loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import respx.mocks

# The async client's default engine is aiohttp, beneath httpx's API but not on httpcore: respx's
# "httpx" mocker intercepts where the httpx client picks its transport, so one suite of respx
# tests covers every engine. (tests/usermocks shows respx's own default, httpcore, at work.)
respx.mocks.DEFAULT_MOCKER = respx.mocks.HTTPXMocker.name

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _check(address: Any) -> None:
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(address)
    return _connect_ex(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reaches any address but loopback, whatever a mock forgets to catch."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield
