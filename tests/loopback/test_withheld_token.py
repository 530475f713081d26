"""The hint on a 401/403 from a server an implicit token was withheld from, on every engine.

A token found in the environment (HF_TOKEN) or the token file is sent only to Hugging Face hosts;
a local server that then answers 401 or 403 gets an error that says a token was found but not
sent, and how to send it (`token=...`) — never the token itself. A token passed explicitly is
sent, and its 401 carries no such hint.
"""

from __future__ import annotations

import pytest

from hfinfer import HfHubHTTPError
from tests.faults.calls import Flavour, Runner

from .rawserver import raw_server, respond

pytestmark = pytest.mark.timeout(30)

SECRET = "hf_envSecretValue0123456789"
DENIED = {
    401: b'{"error": "Authorization header is missing"}',
    403: b'{"error": "Forbidden"}',
}


def _denied(status: int) -> object:
    reason = "Unauthorized" if status == 401 else "Forbidden"
    return respond(
        DENIED[status], status=f"{status} {reason}", headers="content-type: application/json\r\n"
    )


def _everything_said(error: BaseException) -> str:
    """Every text the error carries: message, args, repr, notes, cause."""
    parts = [str(error), repr(error), *map(str, error.args), *getattr(error, "__notes__", [])]
    if error.__cause__ is not None:
        parts.append(repr(error.__cause__))
    return "\n".join(parts)


@pytest.mark.parametrize("status", [401, 403])
def test_implicit_token_withheld_from_a_local_server_is_hinted_at(
    flavour: Flavour, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with raw_server(_denied(status)) as server:
        runner = Runner(flavour, token=None, max_retries=0)  # token from the environment
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert error.status_code == status
    message = str(error)
    assert "was found" in message and "not sent" in message
    assert "token=" in message
    assert "127.0.0.1" in message  # the host it was withheld from
    assert SECRET not in _everything_said(error)
    assert b"authorization" not in server.requests[0].lower()  # withheld indeed


@pytest.mark.parametrize("status", [401, 403])
def test_explicit_token_is_sent_and_gets_no_hint(
    flavour: Flavour, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_someOtherTokenInTheEnv")
    with raw_server(_denied(status)) as server:
        runner = Runner(flavour, token=SECRET, max_retries=0)
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert error.status_code == status
    assert "not sent" not in str(error) and "token=" not in str(error)
    assert SECRET not in _everything_said(error)
    assert f"\r\nauthorization: bearer {SECRET}\r\n".lower().encode() in server.requests[0].lower()


def test_no_token_anywhere_gets_no_hint(flavour: Flavour, monkeypatch: pytest.MonkeyPatch) -> None:
    with raw_server(_denied(401)) as server:
        runner = Runner(flavour, token=None, max_retries=0)
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert "not sent" not in str(error)


def test_other_statuses_get_no_hint(flavour: Flavour, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with raw_server(respond(b'{"error": "bad input"}', status="400 Bad Request")) as server:
        runner = Runner(flavour, token=None, max_retries=0)
        try:
            outcome = runner.call("classify", server.url)
        finally:
            runner.close()
    error = outcome.error
    assert isinstance(error, HfHubHTTPError), outcome.describe()
    assert "not sent" not in str(error)
    assert SECRET not in _everything_said(error)
