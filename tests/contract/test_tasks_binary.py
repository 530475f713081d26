"""Contract of every audio/image task: raw bodies, base64 JSON bodies and typed results.

Raw-body tasks send the content as the whole body when no parameter is given, and
`{"inputs": <base64>, "parameters": {...}}` when one is.
"""

from __future__ import annotations

from typing import Any

import pytest
import respx
from contract_helpers import AUDIO, FLAVOURS, IMAGE, Case, b64, case_params, png_bytes, run_case
from PIL import Image

import hfinfer

TARGETS = ("id", "url")
MASK = png_bytes((400, 300), mode="L", color=255)
ENHANCED = b"fLaC-enhanced-audio\x00\xff"


def check_audio_classes(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.AudioClassificationOutputElement) for x in out)
    assert [(x.label, x.score) for x in out] == [
        ("hap", 0.4976358711719513),
        ("neu", 0.3677836060523987),
    ]


def check_audio_to_audio(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 1
    item = out[0]
    assert isinstance(item, hfinfer.AudioToAudioOutputElement)
    assert item.label == "label_0"
    assert item.content_type == "audio/flac"
    assert item.blob == ENHANCED
    assert type(item.blob) is bytes


def check_asr(out: Any) -> None:
    assert isinstance(out, hfinfer.AutomaticSpeechRecognitionOutput)
    assert out.text == "hello world"
    assert out.chunks is None


def check_docqa(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 1
    assert isinstance(out[0], hfinfer.DocumentQuestionAnsweringOutputElement)
    assert out[0].answer == "us-001"
    assert (out[0].start, out[0].end) == (16, 16)
    assert out[0].score == 0.9999666213989258


def check_image_classes(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 1
    assert isinstance(out[0], hfinfer.ImageClassificationOutputElement)
    assert (out[0].label, out[0].score) == ("Blenheim spaniel", 0.9779096841812134)


def check_segmentation(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 1
    item = out[0]
    assert isinstance(item, hfinfer.ImageSegmentationOutputElement)
    assert (item.label, item.score) == ("LABEL_184", 0.989008)
    assert isinstance(item.mask, Image.Image)
    assert item.mask.size == (400, 300)
    assert item.mask.mode == "L"


def check_image_7x5(out: Any) -> None:
    assert isinstance(out, Image.Image)
    assert out.size == (7, 5)


def check_caption(out: Any) -> None:
    assert isinstance(out, hfinfer.ImageToTextOutput)
    assert out.generated_text == "a cat standing in a grassy field "


def check_detection(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 1
    item = out[0]
    assert isinstance(item, hfinfer.ObjectDetectionOutputElement)
    assert (item.label, item.score) == ("person", 0.9486683011054993)
    assert (item.box.xmin, item.box.ymin, item.box.xmax, item.box.ymax) == (59, 39, 420, 510)


def check_vqa(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.VisualQuestionAnsweringOutputElement) for x in out)
    assert [(x.answer, x.score) for x in out] == [
        ("laying down", 0.778609573841095),
        ("sitting", 0.6957435607910156),
    ]


def check_zsic(out: Any) -> None:
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(x, hfinfer.ZeroShotImageClassificationOutputElement) for x in out)
    assert [(x.label, x.score) for x in out] == [("dog", 0.956), ("cat", 0.03)]


AUDIO_CLASSES = [{"score": 0.4976358711719513, "label": "hap"},
                 {"score": 0.3677836060523987, "label": "neu"}]  # fmt: skip
AUDIO_TO_AUDIO = [{"label": "label_0", "content-type": "audio/flac", "blob": b64(ENHANCED)}]
DOCQA = [{"answer": "us-001", "end": 16, "score": 0.9999666213989258, "start": 16}]
IMAGE_CLASSES = [{"label": "Blenheim spaniel", "score": 0.9779096841812134}]
SEGMENTS = [{"score": 0.989008, "label": "LABEL_184", "mask": b64(MASK)}]
DETECTIONS = [{"score": 0.9486683011054993, "label": "person",
               "box": {"xmin": 59, "ymin": 39, "xmax": 420, "ymax": 510}}]  # fmt: skip
VQA = [{"score": 0.778609573841095, "answer": "laying down"},
       {"score": 0.6957435607910156, "answer": "sitting"}]  # fmt: skip
ZSIC = [{"label": "dog", "score": 0.956}, {"label": "cat", "score": 0.03}]

CASES = [
    Case("audio_classification-raw", "audio_classification", (AUDIO,), {},
         "superb/hubert-large-superb-er", AUDIO, AUDIO_CLASSES, check_audio_classes),
    Case("audio_classification-params", "audio_classification", (AUDIO,),
         {"top_k": 2, "function_to_apply": "softmax"}, "superb/hubert-large-superb-er",
         {"inputs": b64(AUDIO), "parameters": {"top_k": 2, "function_to_apply": "softmax"}},
         AUDIO_CLASSES, check_audio_classes),
    Case("audio_to_audio", "audio_to_audio", (AUDIO,), {}, "speechbrain/sepformer-wham",
         AUDIO, AUDIO_TO_AUDIO, check_audio_to_audio),
    Case("automatic_speech_recognition", "automatic_speech_recognition", (AUDIO,), {},
         "openai/whisper-large-v3", AUDIO, {"text": "hello world"}, check_asr),
    Case("document_question_answering", "document_question_answering",
         (IMAGE, "What is the invoice number?"), {}, "impira/layoutlm-document-qa",
         {"inputs": {"image": b64(IMAGE), "question": "What is the invoice number?"}},
         DOCQA, check_docqa),
    Case("document_question_answering-params", "document_question_answering",
         (IMAGE, "What is the invoice number?"),
         {"top_k": 1, "lang": "en", "max_seq_len": 128, "word_boxes": ["us-001", [1, 2, 3, 4]]},
         "impira/layoutlm-document-qa",
         {"inputs": {"image": b64(IMAGE), "question": "What is the invoice number?"},
          "parameters": {"top_k": 1, "lang": "en", "max_seq_len": 128,
                         "word_boxes": ["us-001", [1, 2, 3, 4]]}},
         DOCQA, check_docqa),
    Case("image_classification-raw", "image_classification", (IMAGE,), {},
         "google/vit-base-patch16-224", IMAGE, IMAGE_CLASSES, check_image_classes),
    Case("image_classification-params", "image_classification", (IMAGE,),
         {"function_to_apply": "sigmoid", "top_k": 1}, "google/vit-base-patch16-224",
         {"inputs": b64(IMAGE), "parameters": {"function_to_apply": "sigmoid", "top_k": 1}},
         IMAGE_CLASSES, check_image_classes),
    Case("image_segmentation-raw", "image_segmentation", (IMAGE,), {},
         "facebook/detr-resnet-50-panoptic", IMAGE, SEGMENTS, check_segmentation),
    Case("image_segmentation-params", "image_segmentation", (IMAGE,),
         {"mask_threshold": 0.5, "overlap_mask_area_threshold": 0.4, "subtask": "panoptic",
          "threshold": 0.9}, "facebook/detr-resnet-50-panoptic",
         {"inputs": b64(IMAGE), "parameters": {"mask_threshold": 0.5,
          "overlap_mask_area_threshold": 0.4, "subtask": "panoptic", "threshold": 0.9}},
         SEGMENTS, check_segmentation),
    Case("image_to_image-raw", "image_to_image", (IMAGE,), {}, "timbrooks/instruct-pix2pix",
         IMAGE, png_bytes((7, 5)), check_image_7x5, accept="image/png"),
    Case("image_to_image-params", "image_to_image", (IMAGE, "turn the cat into a tiger"),
         {"negative_prompt": "blurry", "height": 64, "width": 32, "num_inference_steps": 10,
          "guidance_scale": 7.0, "strength": 0.8}, "timbrooks/instruct-pix2pix",
         {"inputs": b64(IMAGE), "parameters": {"prompt": "turn the cat into a tiger",
          "negative_prompt": "blurry", "height": 64, "width": 32, "num_inference_steps": 10,
          "guidance_scale": 7.0, "strength": 0.8}},
         png_bytes((7, 5)), check_image_7x5, accept="image/png"),
    Case("image_to_text-list", "image_to_text", (IMAGE,), {}, "Salesforce/blip-image-captioning",
         IMAGE, [{"generated_text": "a cat standing in a grassy field "}], check_caption),
    Case("image_to_text-object", "image_to_text", (IMAGE,), {},
         "Salesforce/blip-image-captioning", IMAGE,
         {"generated_text": "a cat standing in a grassy field "}, check_caption),
    Case("object_detection-raw", "object_detection", (IMAGE,), {}, "facebook/detr-resnet-50",
         IMAGE, DETECTIONS, check_detection),
    Case("object_detection-params", "object_detection", (IMAGE,), {"threshold": 0.9},
         "facebook/detr-resnet-50", {"inputs": b64(IMAGE), "parameters": {"threshold": 0.9}},
         DETECTIONS, check_detection),
    # reference wire shape: image and question at the top level, no "inputs" wrapper
    Case("visual_question_answering", "visual_question_answering",
         (IMAGE, "What is the animal doing?"), {}, "dandelin/vilt-b32-finetuned-vqa",
         {"image": b64(IMAGE), "question": "What is the animal doing?"}, VQA, check_vqa),
    Case("visual_question_answering-top_k", "visual_question_answering",
         (IMAGE, "What is the animal doing?"), {"top_k": 2}, "dandelin/vilt-b32-finetuned-vqa",
         {"image": b64(IMAGE), "question": "What is the animal doing?",
          "parameters": {"top_k": 2}}, VQA, check_vqa),
    # reference wire shape: camelCase candidateLabels, comma-joined, inside "inputs"
    Case("zero_shot_image_classification", "zero_shot_image_classification",
         (IMAGE, ["dog", "cat", "horse"]), {}, "openai/clip-vit-base-patch32",
         {"inputs": {"image": b64(IMAGE), "candidateLabels": "dog,cat,horse"}}, ZSIC, check_zsic),
    Case("zero_shot_image_classification-template", "zero_shot_image_classification",
         (IMAGE, ["dog", "cat"]), {"hypothesis_template": "a photo of a {}"},
         "openai/clip-vit-base-patch32",
         {"inputs": {"image": b64(IMAGE), "candidateLabels": "dog,cat"},
          "parameters": {"hypothesis_template": "a photo of a {}"}}, ZSIC, check_zsic),
]  # fmt: skip


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("case", case_params(CASES))
async def test_binary_task_contract(
    case: Case, flavour: str, target: str, mock: respx.MockRouter
) -> None:
    await run_case(case, flavour, target, mock)
