"""The README's tour: real calls through hfinfer against real servers started on 127.0.0.1.

Starts the HF pipeline server (api-inference-community + all-MiniLM-L6-v2) and llama.cpp's
llama-server (a tiny random Llama), makes a few calls sync and async, then stops both.
Run it with `nox -s demo`, which first sets the servers up (cached in .cache/realservers).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "realservers"))

from servers import start_llama_chat_server, start_pipeline_server  # noqa: E402

from hfinfer import AsyncInferenceClient, InferenceClient  # noqa: E402

MESSAGES = [{"role": "user", "content": "hello, how are you today?"}]


def sync_part(pipeline_url: str, chat_url: str) -> None:
    client = InferenceClient(token=False)
    vector = client.feature_extraction("Today is a sunny day", model=pipeline_url)
    print(f"feature_extraction → {vector.dtype} array {vector.shape}, starts {vector.ravel()[:3]}")
    scores = client.sentence_similarity(
        "Today is a sunny day",
        ["That is a happy person", "Today is a rainy day"],
        model=pipeline_url + "/pipeline/sentence-similarity",
    )
    print(f"sentence_similarity → {[round(s, 4) for s in scores]}")
    chat = InferenceClient(base_url=chat_url + "/v1", token=False)
    print("chat_completion(stream=True) → ", end="", flush=True)
    for chunk in chat.chat_completion(MESSAGES, max_tokens=24, temperature=0, seed=0, stream=True):
        print(chunk.choices[0].delta.content or "", end="", flush=True)
    print("   (random weights: gibberish, but real tokens from a real server)")
    chat.close()
    client.close()


async def async_part(pipeline_url: str, chat_url: str) -> None:
    async with AsyncInferenceClient(token=False) as client:
        vectors = await client.feature_extraction(["one", "two"], model=pipeline_url)
        print(f"async feature_extraction (batch of 2) → {vectors.shape}")
    async with AsyncInferenceClient(base_url=chat_url, token=False) as chat:
        answer = await chat.chat.completions.create(
            model="tiny-llama", messages=MESSAGES, max_tokens=12, temperature=0
        )
        print(
            f"async chat.completions.create → {answer.choices[0].message.content!r}, usage {answer.usage}"
        )


def main() -> None:
    print("starting the HF pipeline server and llama-server on 127.0.0.1 …")
    with start_pipeline_server() as pipeline, start_llama_chat_server() as llama:
        print(
            f"  pipeline server {pipeline.url} (pid {pipeline.pid}), llama-server {llama.url} (pid {llama.pid})"
        )
        sync_part(pipeline.url, llama.url)
        asyncio.run(async_part(pipeline.url, llama.url))
    print("servers stopped.\n")
    print("Next, point hfinfer at a real deployment:")
    print(
        '  export HF_TOKEN=hf_…; InferenceClient("sentence-transformers/all-MiniLM-L6-v2").feature_extraction("hi")'
    )
    print(
        '  InferenceClient("https://<your-endpoint>.endpoints.huggingface.cloud").text_generation("Hello")'
    )
    print(
        '  InferenceClient(base_url="http://localhost:8000/v1").chat.completions.create(model=…, messages=…)'
    )


if __name__ == "__main__":
    main()
