"""HTTPS through hfinfer's transports: certificate verification against a local CA file."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hfinfer import AsyncInferenceClient, InferenceClient, InferenceConnectionError

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


def test_https_with_a_trusted_certificate(server_tls: ssl.SSLContext, trusted: None) -> None:
    with raw_server(respond(LABELS), tls=server_tls) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        with InferenceClient(url, token="hf_tls_token") as client:
            assert client.text_classification("a")[0].label == "POSITIVE"
            assert client.text_classification("b")[0].label == "POSITIVE"
    assert server.connections == 1  # TLS connections are kept alive too
    assert b"authorization: bearer hf_tls_token" in server.requests[0].lower()


async def test_async_https_with_a_trusted_certificate(
    server_tls: ssl.SSLContext, trusted: None
) -> None:
    with raw_server(respond(LABELS), tls=server_tls) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        # AsyncInferenceClient reads the environment only with trust_env=True (as the reference)
        async with AsyncInferenceClient(url, token=False, trust_env=True) as client:
            assert (await client.text_classification("a"))[0].score == 0.9
            assert (await client.text_classification("b"))[0].score == 0.9
    assert server.connections == 1


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_untrusted_or_mismatched_certificate_is_refused(
    server_tls: ssl.SSLContext,
    host: str,
    certificate: tuple[Path, Path],
    request: pytest.FixtureRequest,
) -> None:
    if host == "127.0.0.1":  # trusted, but issued for localhost only
        request.getfixturevalue("trusted")
    with raw_server(respond(LABELS), tls=server_tls) as server:
        client = InferenceClient(server.url.replace("127.0.0.1", host), token=False, max_retries=0)
        with pytest.raises(InferenceConnectionError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
            client.text_classification("a")
    assert server.requests == []


async def test_async_untrusted_certificate_is_refused(server_tls: ssl.SSLContext) -> None:
    with raw_server(respond(LABELS), tls=server_tls) as server:
        url = server.url.replace("127.0.0.1", "localhost")
        async with AsyncInferenceClient(url, token=False, max_retries=0) as client:
            with pytest.raises(InferenceConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.text_classification("a")
    assert server.requests == []
