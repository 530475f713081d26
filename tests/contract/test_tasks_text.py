"""Contract of every text/JSON task: exact request and typed result, sync and async.

Fixtures are the documented example outputs of the specification where it shows one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import respx
from contract_helpers import FLAVOURS, Case, case_params, png_bytes, run_case

import hfinfer

TARGETS = ("id", "url")

# -- checks -------------------------------------------------------------------------------------


def check_chat(out: Any) -> None:
    assert isinstance(out, hfinfer.ChatCompletionOutput)
    assert len(out.choices) == 1
    choice = out.choices[0]
    assert choice.finish_reason == "eos_token"
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert choice.message.content == "The capital of France is Paris."
    assert choice.message.tool_calls is None
    assert out.created == 1719907176
    assert out.model == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert out.system_fingerprint == "2.0.4-sha-f426a33"
    assert out.usage.completion_tokens == 8
    assert out.usage.prompt_tokens == 17
    assert out.usage.total_tokens == 25


def check_feature_extraction(out: Any) -> None:
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float32
    assert out.shape == (2, 3)
    assert out[0, 0] == np.float32(-0.42943227)
    assert out[1, 2] == np.float32(-1.2077185)


def check_fill_mask(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.FillMaskOutputElement) for x in out)
    assert out[0].score == 0.06897063553333282
    assert out[0].token == 11098
    assert out[0].token_str == " happiness"
    assert out[0].sequence == "The goal of life is happiness."
    assert out[1].token_str == " immortality"


def check_qa_one(out: Any) -> None:
    assert isinstance(out, hfinfer.QuestionAnsweringOutputElement)
    assert out == {"answer": "Clara", "end": 16, "score": 0.9326565265655518, "start": 11}
    assert out.answer == "Clara" and out.start == 11 and out.end == 16


def check_qa_many(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.QuestionAnsweringOutputElement) for x in out)
    assert [x.answer for x in out] == ["Clara", "Berkeley"]


def check_similarity(out: Any) -> None:
    assert out == [0.7785726189613342, 0.45876261591911316, 0.2906220555305481]


def check_summary(out: Any) -> None:
    assert isinstance(out, hfinfer.SummarizationOutput)
    assert out.summary_text == "The Eiffel tower is one of the most famous landmarks in the world."


def check_table_qa(out: Any) -> None:
    assert isinstance(out, hfinfer.TableQuestionAnsweringOutputElement)
    assert out.answer == "36542"
    assert out.coordinates == [[0, 1]]
    assert out.cells == ["36542"]
    assert out.aggregator == "AVERAGE"


def check_tabular_classification(out: Any) -> None:
    assert out == ["5", "5", "5"]


def check_tabular_regression(out: Any) -> None:
    assert out == [110, 120, 130]


def check_text_classification(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.TextClassificationOutputElement) for x in out)
    assert (out[0].label, out[0].score) == ("POSITIVE", 0.9998695850372314)
    assert (out[1].label, out[1].score) == ("NEGATIVE", 0.0001304351753788069)


def check_generated_text(out: Any) -> None:
    assert out == "100% open source and built to be easy to use."
    assert type(out) is str


def check_generation_details(out: Any) -> None:
    assert isinstance(out, hfinfer.TextGenerationOutput)
    assert out.generated_text == "100% open source and built to be easy to use."
    details = out.details
    assert details.finish_reason == "length"
    assert details.generated_tokens == 12
    assert details.seed is None
    assert [t.text for t in details.prefill] == ["The", " hugging"]
    assert details.prefill[1].logprob == -13.171875
    assert [(t.id, t.text, t.special) for t in details.tokens] == [
        (1425, "100", False),
        (16, "%", False),
    ]
    assert details.tokens[0].logprob == -1.0175781


def check_image_7x5(out: Any) -> None:
    from PIL import Image

    assert isinstance(out, Image.Image)
    assert out.size == (7, 5)


def check_speech(out: Any) -> None:
    assert out == SPEECH
    assert type(out) is bytes


def check_tokens(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.TokenClassificationOutputElement) for x in out)
    assert out[0].entity_group == "PER"
    assert out[0].score == 0.9971321225166321
    assert out[0].word == "Sarah Jessica Parker"
    assert (out[0].start, out[0].end) == (11, 31)
    assert (out[1].word, out[1].start, out[1].end) == ("Jessica", 52, 59)


def check_translation(out: Any) -> None:
    assert isinstance(out, hfinfer.TranslationOutput)
    assert out.translation_text == "Mein Name ist Wolfgang und ich lebe in Berlin."


ZS_LABELS = ["space & cosmos", "scientific discovery", "microbiology", "robots", "archeology"]
ZS_TEXT = "A new model offers an explanation for how the Galilean satellites formed around Jupiter."


def check_zero_shot(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 5
    assert all(isinstance(x, hfinfer.ZeroShotClassificationOutputElement) for x in out)
    assert [(x.label, x.score) for x in out] == [
        ("scientific discovery", 0.7961668968200684),
        ("space & cosmos", 0.18570658564567566),
        ("microbiology", 0.00730885099619627),
        ("archeology", 0.006258360575884581),
        ("robots", 0.004559356719255447),
    ]


# -- fixtures from the specification ------------------------------------------------------------

CHAT_OUTPUT = {
    "choices": [
        {
            "finish_reason": "eos_token",
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The capital of France is Paris.",
                "name": None,
                "tool_calls": None,
            },
            "logprobs": None,
        }
    ],
    "created": 1719907176,
    "id": "",
    "model": "meta-llama/Meta-Llama-3-8B-Instruct",
    "object": "text_completion",
    "system_fingerprint": "2.0.4-sha-f426a33",
    "usage": {"completion_tokens": 8, "prompt_tokens": 17, "total_tokens": 25},
}
MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]
GENERATED = "100% open source and built to be easy to use."
GENERATION_DETAILS = {
    "generated_text": GENERATED,
    "details": {
        "finish_reason": "length",
        "generated_tokens": 12,
        "seed": None,
        "prefill": [
            {"id": 487, "text": "The", "logprob": None},
            {"id": 53789, "text": " hugging", "logprob": -13.171875},
        ],
        "tokens": [
            {"id": 1425, "text": "100", "logprob": -1.0175781, "special": False},
            {"id": 16, "text": "%", "logprob": -0.0463562, "special": False},
        ],
        "best_of_sequences": None,
    },
}
TG_DEFAULTS = {"details": False, "do_sample": False, "return_full_text": False, "stop": []}
PROMPT = "The huggingface_hub library is "
TABLE = {
    "Repository": ["Transformers", "Datasets", "Tokenizers"],
    "Stars": ["36542", "4512", "3934"],
}
WINE = {"fixed_acidity": ["7.4", "7.8", "10.3"], "pH": ["3.51", "3.2", "3.23"]}
FISH = {"Height": ["11.52", "12.48", "12.3778"], "Species": ["Bream", "Bream", "Bream"]}
SPEECH = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
OTHER_SENTENCES = [
    "Deep learning is so straightforward.",
    "This is so difficult, like rocket science.",
    "I can't believe how much I struggled with this.",
]
TOKENS_OUTPUT = [
    {
        "entity_group": "PER",
        "score": 0.9971321225166321,
        "word": "Sarah Jessica Parker",
        "start": 11,
        "end": 31,
    },
    {"entity_group": "PER", "score": 0.9773476123809814, "word": "Jessica", "start": 52, "end": 59},
]

CASES = [
    Case(
        "chat_completion",
        "chat_completion",
        (MESSAGES,),
        {"max_tokens": 100, "temperature": 0.5, "stop": ["\n"], "seed": 42},
        "meta-llama/Meta-Llama-3-8B-Instruct",
        {
            "messages": MESSAGES,
            "max_tokens": 100,
            "temperature": 0.5,
            "stop": ["\n"],
            "seed": 42,
            "stream": False,
        },
        CHAT_OUTPUT,
        check_chat,
        route="chat",
    ),
    Case(
        "chat_completion-bare",
        "chat_completion",
        (MESSAGES,),
        {},
        "HuggingFaceH4/zephyr-7b-beta",
        {"messages": MESSAGES, "stream": False},
        CHAT_OUTPUT,
        check_chat,
        route="chat",
    ),
    Case(
        "feature_extraction",
        "feature_extraction",
        ("Hi, who are you?",),
        {"normalize": True, "truncate": True, "truncation_direction": "Left"},
        "sentence-transformers/all-MiniLM-L6-v2",
        # quirk fix: TEI parameters at the body root, not under "parameters"
        {
            "inputs": "Hi, who are you?",
            "normalize": True,
            "truncate": True,
            "truncation_direction": "Left",
        },
        [[-0.42943227, -0.6364878, -1.693462], [0.28552425, -0.928395, -1.2077185]],
        check_feature_extraction,
        route="pipeline/feature-extraction",
    ),
    Case(
        "feature_extraction-bare",
        "feature_extraction",
        ("Hi, who are you?",),
        {},
        "sentence-transformers/all-MiniLM-L6-v2",
        {"inputs": "Hi, who are you?"},
        [[-0.42943227, -0.6364878, -1.693462], [0.28552425, -0.928395, -1.2077185]],
        check_feature_extraction,
        route="pipeline/feature-extraction",
    ),
    Case(
        "fill_mask",
        "fill_mask",
        ("The goal of life is <mask>.",),
        {"targets": ["happiness", "immortality"], "top_k": 2},
        "distilroberta-base",
        {
            "inputs": "The goal of life is <mask>.",
            "parameters": {"targets": ["happiness", "immortality"], "top_k": 2},
        },
        [
            {
                "score": 0.06897063553333282,
                "token": 11098,
                "token_str": " happiness",
                "sequence": "The goal of life is happiness.",
            },
            {
                "score": 0.06554922461509705,
                "token": 45075,
                "token_str": " immortality",
                "sequence": "The goal of life is immortality.",
            },
        ],
        check_fill_mask,
    ),
    Case(
        "question_answering",
        "question_answering",
        ("What's my name?", "My name is Clara and I live in Berkeley."),
        {},
        "deepset/roberta-base-squad2",
        {
            "inputs": {
                "question": "What's my name?",
                "context": "My name is Clara and I live in Berkeley.",
            }
        },
        {"answer": "Clara", "end": 16, "score": 0.9326565265655518, "start": 11},
        check_qa_one,
    ),
    Case(
        "question_answering-top_k",
        "question_answering",
        ("What's my name?", "My name is Clara and I live in Berkeley."),
        {"top_k": 2, "handle_impossible_answer": True, "max_answer_len": 5},
        "deepset/roberta-base-squad2",
        {
            "inputs": {
                "question": "What's my name?",
                "context": "My name is Clara and I live in Berkeley.",
            },
            "parameters": {"top_k": 2, "handle_impossible_answer": True, "max_answer_len": 5},
        },
        [
            {"answer": "Clara", "end": 16, "score": 0.93, "start": 11},
            {"answer": "Berkeley", "end": 39, "score": 0.01, "start": 31},
        ],
        check_qa_many,
    ),
    Case(
        "sentence_similarity",
        "sentence_similarity",
        ("Machine learning is so easy.",),
        {"other_sentences": OTHER_SENTENCES},
        "sentence-transformers/all-MiniLM-L6-v2",
        {
            "inputs": {
                "source_sentence": "Machine learning is so easy.",
                "sentences": OTHER_SENTENCES,
            }
        },
        [0.7785726189613342, 0.45876261591911316, 0.2906220555305481],
        check_similarity,
        route="pipeline/sentence-similarity",
    ),
    Case(
        "summarization",
        "summarization",
        ("The Eiffel tower...",),
        {"truncation": "longest_first", "generate_parameters": {"max_new_tokens": 30}},
        "facebook/bart-large-cnn",
        {
            "inputs": "The Eiffel tower...",
            "parameters": {
                "truncation": "longest_first",
                "generate_parameters": {"max_new_tokens": 30},
            },
        },
        [{"summary_text": "The Eiffel tower is one of the most famous landmarks in the world."}],
        check_summary,
    ),
    Case(
        "table_question_answering",
        "table_question_answering",
        (TABLE, "How many stars does the transformers repository have?"),
        {"parameters": {"truncation": True, "padding": None}},
        "google/tapas-base-finetuned-wtq",
        {
            "inputs": {
                "table": TABLE,
                "query": "How many stars does the transformers repository have?",
            },
            "parameters": {"truncation": True},
        },
        {"answer": "36542", "coordinates": [[0, 1]], "cells": ["36542"], "aggregator": "AVERAGE"},
        check_table_qa,
    ),
    Case(
        "tabular_classification",
        "tabular_classification",
        (WINE,),
        {},
        "julien-c/wine-quality",
        {"table": WINE},
        ["5", "5", "5"],
        check_tabular_classification,
    ),
    Case(
        "tabular_regression",
        "tabular_regression",
        (FISH,),
        {},
        "scikit-learn/Fish-Weight",
        {"table": FISH},
        [110, 120, 130],
        check_tabular_regression,
    ),
    Case(
        "text_classification",
        "text_classification",
        ("I like you",),
        {"top_k": 2, "function_to_apply": "softmax"},
        "distilbert-base-uncased-finetuned-sst-2-english",
        {"inputs": "I like you", "parameters": {"top_k": 2, "function_to_apply": "softmax"}},
        [
            [
                {"label": "POSITIVE", "score": 0.9998695850372314},
                {"label": "NEGATIVE", "score": 0.0001304351753788069},
            ]
        ],
        check_text_classification,
    ),
    Case(
        "text_generation-bare",
        "text_generation",
        (PROMPT,),
        {},
        "gpt2",
        {"inputs": PROMPT, "parameters": TG_DEFAULTS, "stream": False},
        [{"generated_text": GENERATED}],
        check_generated_text,
    ),
    Case(
        "text_generation-object",
        "text_generation",
        (PROMPT,),
        {"max_new_tokens": 12, "stop": ["."], "temperature": 0.7, "seed": 1},
        "gpt2",
        {
            "inputs": PROMPT,
            "parameters": {
                **TG_DEFAULTS,
                "max_new_tokens": 12,
                "stop": ["."],
                "temperature": 0.7,
                "seed": 1,
            },
            "stream": False,
        },
        {"generated_text": GENERATED},
        check_generated_text,
    ),
    Case(
        "text_generation-details",
        "text_generation",
        (PROMPT,),
        {"details": True, "max_new_tokens": 12},
        "gpt2",
        {
            "inputs": PROMPT,
            "parameters": {**TG_DEFAULTS, "details": True, "max_new_tokens": 12},
            "stream": False,
        },
        [GENERATION_DETAILS],
        check_generation_details,
    ),
    Case(
        "text_to_image",
        "text_to_image",
        ("An astronaut riding a horse on the moon.",),
        {
            "negative_prompt": "low resolution, blurry",
            "height": 512,
            "width": 640,
            "num_inference_steps": 20,
            "guidance_scale": 7.5,
            "seed": 3,
            "target_size": {"width": 64, "height": 32},
            "strength": 0.4,
        },
        "stabilityai/stable-diffusion-2-1",
        {
            "inputs": "An astronaut riding a horse on the moon.",
            "parameters": {
                "negative_prompt": "low resolution, blurry",
                "height": 512,
                "width": 640,
                "num_inference_steps": 20,
                "guidance_scale": 7.5,
                "seed": 3,
                "target_size": {"width": 64, "height": 32},
                "strength": 0.4,
            },
        },
        png_bytes((7, 5)),
        check_image_7x5,
        accept="image/png",
    ),
    Case(
        "text_to_image-bare",
        "text_to_image",
        ("An astronaut riding a horse on the moon.",),
        {},
        "stabilityai/stable-diffusion-2-1",
        {"inputs": "An astronaut riding a horse on the moon."},
        png_bytes((7, 5)),
        check_image_7x5,
        accept="image/png",
    ),
    Case(
        "text_to_speech",
        "text_to_speech",
        ("Hello world",),
        {"do_sample": True, "max_new_tokens": 50, "early_stopping": "never", "top_k": 5},
        "espnet/kan-bayashi_ljspeech_vits",
        {
            "inputs": "Hello world",
            "parameters": {
                "do_sample": True,
                "max_new_tokens": 50,
                "early_stopping": "never",
                "top_k": 5,
            },
        },
        SPEECH,
        check_speech,
    ),
    Case(
        "token_classification",
        "token_classification",
        ("My name is Sarah Jessica Parker but you can call me Jessica",),
        {"aggregation_strategy": "simple", "ignore_labels": ["O"], "stride": 4},
        "dslim/bert-base-NER",
        {
            "inputs": "My name is Sarah Jessica Parker but you can call me Jessica",
            "parameters": {"aggregation_strategy": "simple", "ignore_labels": ["O"], "stride": 4},
        },
        TOKENS_OUTPUT,
        check_tokens,
    ),
    Case(
        "translation",
        "translation",
        ("My name is Wolfgang and I live in Berlin",),
        {"src_lang": "en_XX", "tgt_lang": "de_DE", "clean_up_tokenization_spaces": True},
        "facebook/mbart-large-50-many-to-many-mmt",
        {
            "inputs": "My name is Wolfgang and I live in Berlin",
            "parameters": {
                "src_lang": "en_XX",
                "tgt_lang": "de_DE",
                "clean_up_tokenization_spaces": True,
            },
        },
        [{"translation_text": "Mein Name ist Wolfgang und ich lebe in Berlin."}],
        check_translation,
    ),
    Case(
        "zero_shot_classification",
        "zero_shot_classification",
        (ZS_TEXT, ZS_LABELS),
        {"hypothesis_template": "This text is about {}."},
        "facebook/bart-large-mnli",
        {
            "inputs": ZS_TEXT,
            "parameters": {
                "candidate_labels": ZS_LABELS,
                "multi_label": False,
                "hypothesis_template": "This text is about {}.",
            },
        },
        {
            "sequence": ZS_TEXT,
            "labels": [
                "scientific discovery",
                "space & cosmos",
                "microbiology",
                "archeology",
                "robots",
            ],
            "scores": [
                0.7961668968200684,
                0.18570658564567566,
                0.00730885099619627,
                0.006258360575884581,
                0.004559356719255447,
            ],
        },
        check_zero_shot,
    ),
]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("case", case_params(CASES))
async def test_text_task_contract(
    case: Case, flavour: str, target: str, mock: respx.MockRouter
) -> None:
    await run_case(case, flavour, target, mock)


def test_every_task_method_has_a_case() -> None:
    from test_tasks_binary import CASES as BINARY_CASES
    from test_tasks_new import CASES as NEW_CASES

    methods = (
        {c.method for c in CASES} | {c.method for c in BINARY_CASES} | {c.method for c in NEW_CASES}
    )
    public = {
        name
        for name in vars(hfinfer.InferenceClient)
        if not name.startswith("_") and callable(getattr(hfinfer.InferenceClient, name))
    }
    assert public <= methods
    assert methods == {
        name
        for name in vars(hfinfer.AsyncInferenceClient)
        if not name.startswith("_") and callable(getattr(hfinfer.AsyncInferenceClient, name))
    }
    assert len(methods) == 32
