"""HTTPS on every engine: certificate verification against a local CA file (SSL_CERT_FILE)."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfinfer import AsyncInferenceClient, InferenceConnectionError
from hfinfer._engines import Engine
from tests.faults.calls import Flavour, Runner

from .rawserver import raw_server, respond

LABELS = b'[{"label":"POSITIVE","score":0.9}]'


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost`, made for this run (openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # honoured with trust_env
    yield


def test_https_with_a_trusted_certificate(
    server_tls: ssl.SSLContext, trusted: None, flavour: Flavour
) -> None:
    with raw_server(respond(LABELS), tls=server_tls) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        # The sync client reads SSL_CERT_FILE by default (trust_env=True); the async client only
        # with trust_env=True (as the reference), on either engine.
        runner = Runner(flavour, token="hf_tls_token", trust_env=True)
        try:
            for _ in range(2):
                outcome = runner.call("classify", url)
                assert outcome.error is None, outcome.describe()
                assert outcome.value[0].label == "POSITIVE"
        finally:
            runner.close()
    assert server.connections == 1  # TLS connections are kept alive too
    assert len(server.requests) == 2
    assert b"authorization: bearer hf_tls_token" in server.requests[0].lower()


async def test_async_without_trust_env_ignores_ssl_cert_file(
    server_tls: ssl.SSLContext, trusted: None, engine: Engine
) -> None:
    with raw_server(respond(LABELS), tls=server_tls) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        async with AsyncInferenceClient(url, token=False, max_retries=0, engine=engine) as client:
            with pytest.raises(InferenceConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.text_classification("a")
    assert server.requests == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_untrusted_or_mismatched_certificate_is_refused(
    server_tls: ssl.SSLContext,
    host: str,
    flavour: Flavour,
    request: pytest.FixtureRequest,
) -> None:
    if host == "127.0.0.1":  # trusted, but issued for localhost only
        request.getfixturevalue("trusted")
    with raw_server(respond(LABELS), tls=server_tls) as server:
        runner = Runner(flavour, max_retries=0, trust_env=True)
        try:
            outcome = runner.call("classify", server.url.replace("127.0.0.1", host))
        finally:
            runner.close()
    assert isinstance(outcome.error, InferenceConnectionError), outcome.describe()
    expected = "CERTIFICATE_VERIFY_FAILED" if host == "localhost" else r"match|mismatch"
    assert re.search(expected, str(outcome.error)), str(outcome.error)
    assert server.requests == []
