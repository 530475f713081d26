"""Token resolution, where the token may be sent, and that it never leaks into text."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx

from hfinfer import AsyncInferenceClient, HfHubHTTPError, InferenceClient, LocalTokenNotFoundError
from hfinfer._config import Token, resolve_token

IE = "https://api-inference.huggingface.co"


@pytest.fixture(autouse=True)
def endpoint_routing(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint routing these tests are written against: with HF_INFERENCE_ENDPOINT set,
    provider=None keeps it byte for byte (a bare model id otherwise goes to Inference Providers)."""
    monkeypatch.setenv("HF_INFERENCE_ENDPOINT", IE)


ENV_TOKEN = "hf_env_SECRET_123"
EXPLICIT = "hf_explicit_SECRET_456"
LABELS = [[{"label": "POSITIVE", "score": 0.9}]]

# -- resolve_token --------------------------------------------------------------------------------


def test_no_token_anywhere() -> None:
    assert resolve_token(None, None) == Token(None, explicit=False)


def test_hf_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    assert resolve_token(None, None) == Token(ENV_TOKEN, explicit=False)


def test_hugging_face_hub_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
    assert resolve_token(None, None) == Token("hf_legacy", explicit=False)


def test_hf_token_wins_over_legacy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
    assert resolve_token(None, None).value == ENV_TOKEN


def test_empty_env_token_falls_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", " \n")
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
    assert resolve_token(None, None).value == "hf_legacy"


def test_env_token_is_cleaned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", "  hf_ab\r\ncd \n")
    assert resolve_token(None, None).value == "hf_abcd"


def test_token_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("hf_from_file\n", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN_PATH", str(path))
    assert resolve_token(None, None) == Token("hf_from_file", explicit=False)


def test_env_wins_over_token_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("hf_from_file", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN_PATH", str(path))
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_legacy")
    assert resolve_token(None, None).value == "hf_legacy"


def test_token_file_under_hf_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_TOKEN_PATH")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    (tmp_path / "token").write_text("hf_home_token", encoding="utf-8")
    assert resolve_token(None, None).value == "hf_home_token"


def test_empty_token_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("\n", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN_PATH", str(path))
    assert resolve_token(None, None).value is None


@pytest.mark.parametrize("flag", ["1", "true", "YES", "on"])
def test_disable_implicit_token(monkeypatch: pytest.MonkeyPatch, flag: str) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", flag)
    assert resolve_token(None, None) == Token(None, explicit=False)
    # ...but an explicit request for the saved token still works.
    assert resolve_token(True, None) == Token(ENV_TOKEN, explicit=True)


def test_disable_implicit_token_false_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "0")
    assert resolve_token(None, None).value == ENV_TOKEN


def test_token_false_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    assert resolve_token(False, None) == Token(None, explicit=True)


def test_token_string_is_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    assert resolve_token(EXPLICIT, None) == Token(EXPLICIT, explicit=True)


def test_token_true_uses_saved_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    assert resolve_token(True, None) == Token(ENV_TOKEN, explicit=True)


def test_token_true_without_saved_token() -> None:
    with pytest.raises(LocalTokenNotFoundError):
        resolve_token(True, None)


def test_api_key_is_an_alias_of_token() -> None:
    assert resolve_token(None, EXPLICIT) == Token(EXPLICIT, explicit=True)


@pytest.mark.parametrize("token", ["a", False, True])
def test_token_and_api_key_together(token: str | bool) -> None:
    with pytest.raises(ValueError, match="both `token` and `api_key`"):
        resolve_token(token, "b")


@pytest.mark.parametrize("cls", [InferenceClient, AsyncInferenceClient])
def test_clients_reject_token_and_api_key(cls: type[InferenceClient]) -> None:
    with pytest.raises(ValueError, match="both `token` and `api_key`"):
        cls(token="a", api_key="b")


def test_token_repr_is_masked() -> None:
    assert EXPLICIT not in repr(Token(EXPLICIT, explicit=True))


# -- where the token goes -------------------------------------------------------------------------


def auth_of(route: respx.Route) -> str | None:
    value: str | None = route.calls.last.request.headers.get("authorization")
    return value


@respx.mock
def test_implicit_token_sent_to_default_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    route = respx.post(f"{IE}/models/org/m").respond(json=LABELS)
    client = InferenceClient()
    result = client.text_classification("great", model="org/m")
    assert result == [{"label": "POSITIVE", "score": 0.9}]
    assert auth_of(route) == f"Bearer {ENV_TOKEN}"
    assert json.loads(route.calls.last.request.content) == {"inputs": "great"}


@respx.mock
def test_implicit_token_from_file_sent_to_default_endpoint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text("hf_file_tok\n", encoding="utf-8")
    monkeypatch.setenv("HF_TOKEN_PATH", str(path))
    route = respx.post(f"{IE}/models/org/m").respond(json=LABELS)
    InferenceClient("org/m").text_classification("great")
    assert auth_of(route) == "Bearer hf_file_tok"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "https://example.com/classify", "http://localhost:9/x"]
)
@respx.mock
def test_implicit_token_not_sent_elsewhere(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    route = respx.post(url).respond(json=LABELS)
    client = InferenceClient(url)
    client.text_classification("great")
    client.post(json={"inputs": "x"})
    assert route.call_count == 2
    for call in route.calls:
        assert "authorization" not in call.request.headers


@respx.mock
def test_implicit_token_not_sent_to_other_host_for_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    route = respx.post("http://127.0.0.1:8080/v1/chat/completions").respond(
        json={"choices": [], "created": 0, "id": "", "model": "tgi", "system_fingerprint": "",
              "usage": {"completion_tokens": 0, "prompt_tokens": 0, "total_tokens": 0}}
    )  # fmt: skip
    InferenceClient("http://127.0.0.1:8080").chat_completion([{"role": "user", "content": "hi"}])
    assert "authorization" not in route.calls.last.request.headers


@respx.mock
def test_disable_implicit_token_on_default_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    route = respx.post(f"{IE}/models/org/m").respond(json=LABELS)
    InferenceClient("org/m").text_classification("great")
    assert "authorization" not in route.calls.last.request.headers


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "https://example.com/classify", f"{IE}/models/org/m"]
)
@respx.mock
def test_explicit_token_sent_anywhere(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    route = respx.post(url).respond(json=LABELS)
    InferenceClient(url, token=EXPLICIT).text_classification("great")
    assert auth_of(route) == f"Bearer {EXPLICIT}"


@respx.mock
def test_api_key_sent_anywhere() -> None:
    route = respx.post("http://127.0.0.1:8080").respond(json=LABELS)
    InferenceClient(base_url="http://127.0.0.1:8080", api_key=EXPLICIT).text_classification("a")
    assert auth_of(route) == f"Bearer {EXPLICIT}"


@respx.mock
def test_token_false_sends_no_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    route = respx.post(f"{IE}/models/org/m").respond(json=LABELS)
    InferenceClient("org/m", token=False).text_classification("great")
    assert "authorization" not in route.calls.last.request.headers


@respx.mock
def test_user_authorization_header_wins() -> None:
    route = respx.post("http://127.0.0.1:8080").respond(json=LABELS)
    client = InferenceClient(
        "http://127.0.0.1:8080", token=EXPLICIT, headers={"Authorization": "Basic dXNlcg=="}
    )
    client.text_classification("great")
    assert route.calls.last.request.headers.get_list("authorization") == ["Basic dXNlcg=="]


@respx.mock
def test_environment_read_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    route = respx.post(f"{IE}/models/org/m").respond(json=LABELS)
    client = InferenceClient("org/m")
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    client.text_classification("great")
    assert "authorization" not in route.calls.last.request.headers


async def test_async_implicit_token_scoping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)
    with respx.mock:
        hf = respx.post(f"{IE}/models/org/m").respond(json=LABELS)
        local = respx.post("http://127.0.0.1:8080").respond(json=LABELS)
        async with AsyncInferenceClient() as client:
            await client.text_classification("a", model="org/m")
            await client.text_classification("a", model="http://127.0.0.1:8080")
        async with AsyncInferenceClient(token=EXPLICIT) as client:
            await client.text_classification("a", model="http://127.0.0.1:8080")
    assert auth_of(hf) == f"Bearer {ENV_TOKEN}"
    assert "authorization" not in local.calls[0].request.headers
    assert local.calls[1].request.headers["authorization"] == f"Bearer {EXPLICIT}"


# -- no leaks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [InferenceClient, AsyncInferenceClient])
def test_token_not_in_repr_or_headers(cls: type[InferenceClient]) -> None:
    client = cls("http://127.0.0.1:8080", token=EXPLICIT)
    assert repr(client) == f"<{cls.__name__}(model='http://127.0.0.1:8080', timeout=None)>"
    assert EXPLICIT not in repr(client)
    assert EXPLICIT not in str(client)
    assert EXPLICIT not in repr(client.headers)
    assert EXPLICIT not in repr(client._config)


@respx.mock
def test_token_not_in_http_error_text() -> None:
    route = respx.post("http://127.0.0.1:8080").respond(
        401, json={"error": "Invalid credentials in Authorization header"}
    )
    client = InferenceClient("http://127.0.0.1:8080", token=EXPLICIT, max_retries=0)
    with pytest.raises(HfHubHTTPError) as info:
        client.text_classification("great")
    assert auth_of(route) == f"Bearer {EXPLICIT}"  # it was sent...
    error = info.value
    assert error.status_code == 401
    assert error.server_message == "Invalid credentials in Authorization header"
    for text in (str(error), repr(error), repr(error.args), str(error.body)):
        assert EXPLICIT not in text  # ...but never shown


async def test_token_not_in_async_http_error_text() -> None:
    with respx.mock:
        respx.post("http://127.0.0.1:8080").respond(403, text="Forbidden")
        client = AsyncInferenceClient("http://127.0.0.1:8080", token=EXPLICIT, max_retries=0)
        with pytest.raises(HfHubHTTPError) as info:
            await client.text_classification("great")
        await client.close()
    assert info.value.status_code == 403
    assert EXPLICIT not in str(info.value)
    assert EXPLICIT not in repr(info.value)


def test_transport_timeout_error_does_not_leak_token() -> None:
    with respx.mock:
        respx.post("http://127.0.0.1:8080").mock(side_effect=httpx.ReadTimeout("slow"))
        client = InferenceClient("http://127.0.0.1:8080", token=EXPLICIT, max_retries=0)
        with pytest.raises(TimeoutError) as info:
            client.text_classification("great")
    assert EXPLICIT not in str(info.value)


@respx.mock
def test_token_never_in_logs(caplog: pytest.LogCaptureFixture, no_backoff: None) -> None:
    """Retries, the model-loading wait, the plain-http warning and errors: no record has it."""
    url = "http://inference.internal:8080/m"
    respx.post(url).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(503, json={"error": "loading", "estimated_time": 0.01}),
            httpx.Response(500, json={"error": "boom"}),
            httpx.Response(401, json={"error": "bad token"}),
        ]
    )
    client = InferenceClient(url, token=EXPLICIT, max_retries=2, timeout=30)
    with caplog.at_level("DEBUG"), pytest.raises(HfHubHTTPError):
        client.text_classification("great")
    messages = [record.getMessage() for record in caplog.records]
    assert any("plain http://" in m for m in messages)  # the warning was logged
    assert sum("retry" in m for m in messages) == 2
    for record in caplog.records:
        assert EXPLICIT not in record.getMessage()
        assert EXPLICIT not in repr(record.args)


def test_plain_http_warning_only_for_remote_hosts(caplog: pytest.LogCaptureFixture) -> None:
    with respx.mock:
        respx.post("http://127.0.0.1:8080").respond(json=LABELS)
        respx.post("https://inference.internal/m").respond(json=LABELS)
        with caplog.at_level("WARNING", logger="hfinfer"):
            InferenceClient("http://127.0.0.1:8080", token=EXPLICIT).text_classification("x")
            InferenceClient("https://inference.internal/m", token=EXPLICIT).text_classification("x")
    assert not [r for r in caplog.records if "plain http" in r.getMessage()]
