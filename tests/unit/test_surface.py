"""Every public method and constructor parameter of the specification exists on both clients with
its parameter names, in order; the sync and async clients mirror each other exactly."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

import pytest

import hfinfer
from hfinfer import AsyncInferenceClient, InferenceClient

REQ = inspect.Parameter.empty  # no default in the specification
KWARGS = "**kwargs"

# Transcribed from the signature lines ("( ...") of the specification
# (shared/seed/000_e73d8a80fc9a119b.txt, beside the repository): name, default.
SPEC_METHODS: dict[str, list[tuple[str, Any]]] = {
    "audio_classification": [
        ("audio", REQ), ("model", None), ("top_k", None), ("function_to_apply", None),
    ],
    "audio_to_audio": [("audio", REQ), ("model", None)],
    "automatic_speech_recognition": [("audio", REQ), ("model", None)],
    "chat_completion": [
        ("messages", REQ), ("model", None), ("stream", False), ("frequency_penalty", None),
        ("logit_bias", None), ("logprobs", None), ("max_tokens", None), ("n", None),
        ("presence_penalty", None), ("response_format", None), ("seed", None), ("stop", None),
        ("stream_options", None), ("temperature", None), ("tool_choice", None),
        ("tool_prompt", None), ("tools", None), ("top_logprobs", None), ("top_p", None),
    ],
    "document_question_answering": [
        ("image", REQ), ("question", REQ), ("model", None), ("doc_stride", None),
        ("handle_impossible_answer", None), ("lang", None), ("max_answer_len", None),
        ("max_question_len", None), ("max_seq_len", None), ("top_k", None), ("word_boxes", None),
    ],
    "feature_extraction": [
        ("text", REQ), ("normalize", None), ("prompt_name", None), ("truncate", None),
        ("truncation_direction", None), ("model", None),
    ],
    "fill_mask": [("text", REQ), ("model", None), ("targets", None), ("top_k", None)],
    "get_endpoint_info": [("model", None)],
    "get_model_status": [("model", None)],
    "get_recommended_model": [("task", REQ)],
    "health_check": [("model", None)],
    "image_classification": [
        ("image", REQ), ("model", None), ("function_to_apply", None), ("top_k", None),
    ],
    "image_segmentation": [
        ("image", REQ), ("model", None), ("mask_threshold", None),
        ("overlap_mask_area_threshold", None), ("subtask", None), ("threshold", None),
    ],
    "image_to_image": [
        ("image", REQ), ("prompt", None), ("negative_prompt", None), ("height", None),
        ("width", None), ("num_inference_steps", None), ("guidance_scale", None), ("model", None),
        (KWARGS, REQ),
    ],
    "image_to_text": [("image", REQ), ("model", None)],
    "list_deployed_models": [("frameworks", None)],
    "object_detection": [("image", REQ), ("model", None), ("threshold", None)],
    "post": [("json", None), ("data", None), ("model", None), ("task", None), ("stream", False)],
    "question_answering": [
        ("question", REQ), ("context", REQ), ("model", None), ("align_to_words", None),
        ("doc_stride", None), ("handle_impossible_answer", None), ("max_answer_len", None),
        ("max_question_len", None), ("max_seq_len", None), ("top_k", None),
    ],
    "sentence_similarity": [("sentence", REQ), ("other_sentences", REQ), ("model", None)],
    "summarization": [
        ("text", REQ), ("parameters", None), ("model", None),
        ("clean_up_tokenization_spaces", None), ("generate_parameters", None), ("truncation", None),
    ],
    "table_question_answering": [
        ("table", REQ), ("query", REQ), ("model", None), ("parameters", None),
    ],
    "tabular_classification": [("table", REQ), ("model", None)],
    "tabular_regression": [("table", REQ), ("model", None)],
    "text_classification": [
        ("text", REQ), ("model", None), ("top_k", None), ("function_to_apply", None),
    ],
    "text_generation": [
        ("prompt", REQ), ("details", False), ("stream", False), ("model", None),
        ("adapter_id", None), ("best_of", None), ("decoder_input_details", None),
        ("do_sample", False), ("frequency_penalty", None), ("grammar", None),
        ("max_new_tokens", None), ("repetition_penalty", None), ("return_full_text", False),
        ("seed", None), ("stop", None), ("stop_sequences", None), ("temperature", None),
        ("top_k", None), ("top_n_tokens", None), ("top_p", None), ("truncate", None),
        ("typical_p", None), ("watermark", None),
    ],
    "text_to_image": [
        ("prompt", REQ), ("negative_prompt", None), ("height", None), ("width", None),
        ("num_inference_steps", None), ("guidance_scale", None), ("model", None),
        ("scheduler", None), ("target_size", None), ("seed", None), (KWARGS, REQ),
    ],
    "text_to_speech": [
        ("text", REQ), ("model", None), ("do_sample", None), ("early_stopping", None),
        ("epsilon_cutoff", None), ("eta_cutoff", None), ("max_length", None),
        ("max_new_tokens", None), ("min_length", None), ("min_new_tokens", None),
        ("num_beam_groups", None), ("num_beams", None), ("penalty_alpha", None),
        ("temperature", None), ("top_k", None), ("top_p", None), ("typical_p", None),
        ("use_cache", None),
    ],
    "token_classification": [
        ("text", REQ), ("model", None), ("aggregation_strategy", None), ("ignore_labels", None),
        ("stride", None),
    ],
    "translation": [
        ("text", REQ), ("model", None), ("src_lang", None), ("tgt_lang", None),
        ("clean_up_tokenization_spaces", None), ("truncation", None), ("generate_parameters", None),
    ],
    "visual_question_answering": [
        ("image", REQ), ("question", REQ), ("model", None), ("top_k", None),
    ],
    "zero_shot_classification": [
        ("text", REQ), ("labels", REQ), ("multi_label", False), ("hypothesis_template", None),
        ("model", None),
    ],
    "zero_shot_image_classification": [
        ("image", REQ), ("labels", REQ), ("model", None), ("hypothesis_template", None),
    ],
    # Only listed for AsyncInferenceClient in the specification; hfinfer has it on both.
    "close": [],
}  # fmt: skip

SPEC_SYNC_INIT: list[tuple[str, Any]] = [
    ("model", None), ("token", None), ("timeout", None), ("headers", None), ("cookies", None),
    ("proxies", None), ("base_url", None), ("api_key", None),
]  # fmt: skip
SPEC_ASYNC_INIT: list[tuple[str, Any]] = [
    ("model", None), ("token", None), ("timeout", None), ("headers", None), ("cookies", None),
    ("trust_env", False), ("proxies", None), ("base_url", None), ("api_key", None),
]  # fmt: skip

# Parameters hfinfer adds after the specification's ones.
# Beyond the seed: retries and their bound, your own httpx client, and the engine's options.
SYNC_EXTRA = [
    "max_retries", "max_retry_wait", "http_client", "trust_env", "http2", "limits", "provider",
    "bill_to",
]  # fmt: skip
ASYNC_EXTRA = [
    "max_retries", "max_retry_wait", "http_client", "engine", "http2", "limits", "provider",
    "bill_to",
]  # fmt: skip
ALLOWED_EXTRA = {"__init__": {*SYNC_EXTRA, *ASYNC_EXTRA}}
# huggingface_hub 2.4.0's `extra_body` (a provider's own parameters)
EXTRA_BODY_METHODS = {
    "automatic_speech_recognition", "chat_completion", "text_to_image", "text_to_speech",
}  # fmt: skip
CALL_OPTIONS = {"max_retries"}  # every task method and post() take it, keyword-only

CLIENTS = [InferenceClient, AsyncInferenceClient]


def parameters(func: Any) -> list[inspect.Parameter]:
    params = list(inspect.signature(func).parameters.values())
    assert params[0].name == "self"
    return params[1:]


def assert_matches_spec(func: Any, method: str, spec: list[tuple[str, Any]]) -> None:
    actual = parameters(func)
    options = [p for p in actual if p.name in CALL_OPTIONS and method != "__init__"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is None for p in options)
    actual = [p for p in actual if p not in options]
    if method in EXTRA_BODY_METHODS:  # keyword-only, before a **kwargs the spec ends with
        (extra_body,) = [p for p in actual if p.name == "extra_body"]
        assert extra_body.kind is inspect.Parameter.KEYWORD_ONLY and extra_body.default is None
        actual = [p for p in actual if p is not extra_body]
    assert len(actual) >= len(spec), f"{method}: {[p.name for p in actual]}"
    for param, (name, default) in zip(actual, spec, strict=False):
        if name == KWARGS:
            assert param.kind is inspect.Parameter.VAR_KEYWORD, f"{method}: {param}"
            continue
        assert param.name == name, f"{method}: expected {name!r}, got {param.name!r}"
        assert param.kind is not inspect.Parameter.VAR_KEYWORD, f"{method}: {param}"
        assert param.default is default or param.default == default, (
            f"{method}({name}): default {param.default!r}, spec {default!r}"
        )
        if default is False:
            assert param.default is False
    extra = [p.name for p in actual[len(spec) :]]
    assert set(extra) <= ALLOWED_EXTRA.get(method, set()), f"{method}: unexpected {extra}"


@pytest.mark.parametrize("client_class", CLIENTS, ids=["sync", "async"])
@pytest.mark.parametrize("method", sorted(SPEC_METHODS))
def test_spec_method_exists_with_spec_parameters(client_class: type, method: str) -> None:
    func = getattr(client_class, method, None)
    assert func is not None, f"{client_class.__name__}.{method} is missing"
    assert callable(func)
    assert_matches_spec(func, method, SPEC_METHODS[method])


def test_sync_constructor_parameters() -> None:
    assert_matches_spec(InferenceClient.__init__, "__init__", SPEC_SYNC_INIT)
    names = [p.name for p in parameters(InferenceClient.__init__)]
    assert names == [name for name, _ in SPEC_SYNC_INIT] + SYNC_EXTRA


def test_async_constructor_parameters() -> None:
    assert_matches_spec(AsyncInferenceClient.__init__, "__init__", SPEC_ASYNC_INIT)
    names = [p.name for p in parameters(AsyncInferenceClient.__init__)]
    assert names == [name for name, _ in SPEC_ASYNC_INIT] + ASYNC_EXTRA


def test_model_is_the_only_positional_constructor_argument() -> None:
    for cls in CLIENTS:
        params = parameters(vars(cls.__mro__[1])["__init__"])
        assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])


def test_spec_methods_are_coroutines_on_async_client_only() -> None:
    for method in SPEC_METHODS:
        assert not inspect.iscoroutinefunction(getattr(InferenceClient, method)), method
        assert inspect.iscoroutinefunction(getattr(AsyncInferenceClient, method)), method


def public_methods(cls: type) -> list[str]:
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        if isinstance(inspect.getattr_static(cls, name), property):
            continue
        if callable(getattr(cls, name)):
            names.append(name)
    return sorted(names)


def sync_annotation(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    return text.replace("AsyncStream", "Stream").replace("AsyncIterator", "Iterator")


def test_public_methods_cover_the_spec() -> None:
    assert len(public_methods(InferenceClient)) >= len(SPEC_METHODS)
    assert set(SPEC_METHODS) <= set(public_methods(InferenceClient))
    assert set(SPEC_METHODS) <= set(public_methods(AsyncInferenceClient))


@pytest.mark.parametrize("method", public_methods(InferenceClient))
def test_async_client_mirrors_sync_method(method: str) -> None:
    sync_func = getattr(InferenceClient, method)
    async_func = getattr(AsyncInferenceClient, method, None)
    assert async_func is not None, f"AsyncInferenceClient.{method} is missing"
    assert inspect.iscoroutinefunction(async_func), method
    sync_sig = inspect.signature(sync_func)
    async_sig = inspect.signature(async_func)
    sync_params = [(p.name, p.kind, p.default, p.annotation) for p in sync_sig.parameters.values()]
    async_params = [
        (p.name, p.kind, p.default, sync_annotation(p.annotation))
        for p in async_sig.parameters.values()
    ]
    assert async_params == sync_params
    assert sync_annotation(async_sig.return_annotation) == sync_sig.return_annotation
    assert "Async" not in str(sync_sig.return_annotation)


def test_async_client_has_no_extra_public_methods() -> None:
    assert public_methods(AsyncInferenceClient) == public_methods(InferenceClient)


def test_streaming_methods_return_stream_types() -> None:
    assert "Stream[ChatCompletionStreamOutput]" in str(
        inspect.signature(InferenceClient.chat_completion).return_annotation
    )
    assert "AsyncStream[ChatCompletionStreamOutput]" in str(
        inspect.signature(AsyncInferenceClient.chat_completion).return_annotation
    )


def test_chat_completions_create_alias_sync() -> None:
    client = InferenceClient(token=False)
    create = client.chat.completions.create
    assert create.__func__ is InferenceClient.chat_completion
    assert create.__self__ is client


async def test_chat_completions_create_alias_async() -> None:
    client = AsyncInferenceClient(token=False)
    create = client.chat.completions.create
    assert create.__func__ is AsyncInferenceClient.chat_completion
    assert create.__self__ is client
    assert inspect.iscoroutinefunction(create)


def test_import_does_not_load_numpy_pillow_asyncio_or_task_types() -> None:
    code = (
        "import sys, json\n"
        "import hfinfer\n"
        "from hfinfer import InferenceClient, AsyncInferenceClient\n"
        "InferenceClient('http://127.0.0.1:1', token=False)\n"
        "AsyncInferenceClient('http://127.0.0.1:1', token=False)\n"
        "print(json.dumps(sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in ('numpy', 'PIL', 'asyncio', 'attr', 'attrs')\n"
        "    or m.startswith('hfinfer._generated.types.'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_types_are_imported_on_first_use() -> None:
    code = (
        "import sys\n"
        "import hfinfer\n"
        "label = hfinfer.TextClassificationOutputElement(label='a', score=1.0).label\n"
        "from hfinfer import ChatCompletionOutput\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('hfinfer._generated.types.'))\n"
        "print(label, *loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "a",
        "hfinfer._generated.types.chat_completion",
        "hfinfer._generated.types.text_classification",
    ]
    with pytest.raises(AttributeError, match="no attribute 'NoSuchType'"):
        hfinfer.NoSuchType  # noqa: B018
