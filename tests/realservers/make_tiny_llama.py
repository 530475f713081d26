"""Write a tiny, deterministic, randomly initialised Llama model as a GGUF file.

The model is gibberish but it is a real llama-architecture GGUF that llama.cpp loads,
tokenizes, chats with (ChatML template) and samples from. Every run with the same
``gguf`` and ``numpy`` versions writes a byte-identical file (fixed RNG seed).

Run it with the real-server venv (it needs the ``gguf`` package)::

    python make_tiny_llama.py OUT.gguf
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

SEED = 0
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
N_LAYER = 2
N_FF = 128
N_CTX = 2048

BOS_ID = 1
IM_START_ID = 259
IM_END_ID = 260  # also the EOS token

# Whole words that get their own token (so short prompts tokenize into few tokens).
WORDS: tuple[str, ...] = (
    "the",
    "a",
    "an",
    "is",
    "of",
    "to",
    "and",
    "in",
    "it",
    "you",
    "that",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "hello",
    "world",
    "hi",
    "how",
    "what",
    "do",
    "we",
    "can",
    "say",
    "user",
    "assistant",
    "system",
    "today",
    "sunny",
    "day",
    "rainy",
    "happy",
    "person",
    "cat",
    "dog",
    "yes",
    "no",
    "ok",
)

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class _Vocab:
    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.scores: list[float] = []
        self.types: list[int] = []
        self._seen: set[str] = set()

    def add(self, token: str, score: float, token_type: int) -> None:
        if token in self._seen:
            return
        self._seen.add(token)
        self.tokens.append(token)
        self.scores.append(score)
        self.types.append(token_type)

    def __contains__(self, token: str) -> bool:
        return token in self._seen


def build_vocab(gguf: Any) -> _Vocab:
    """A SentencePiece-style vocabulary: control tokens, byte fallback, chars, words."""
    tt = gguf.TokenType
    v = _Vocab()
    v.add("<unk>", 0.0, int(tt.UNKNOWN))
    v.add("<s>", 0.0, int(tt.CONTROL))
    v.add("</s>", 0.0, int(tt.CONTROL))
    for b in range(256):  # byte fallback: any text can be tokenized
        v.add(f"<0x{b:02X}>", 0.0, int(tt.BYTE))
    v.add("<|im_start|>", 0.0, int(tt.CONTROL))
    v.add("<|im_end|>", 0.0, int(tt.CONTROL))
    assert v.tokens[IM_START_ID] == "<|im_start|>"
    assert v.tokens[IM_END_ID] == "<|im_end|>"
    chars = [chr(c) for c in range(33, 127)] + ["\u2581"]
    for ch in chars:
        v.add(ch, -10.0, int(tt.NORMAL))
    for i, word in enumerate(WORDS):
        v.add("\u2581" + word, -1.0 - i * 0.01, int(tt.NORMAL))
        v.add(word, -2.0 - i * 0.01, int(tt.NORMAL))
    # Every prefix of every word, so that SPM's bigram merges can reach the whole words.
    for word in WORDS:
        for s in ("\u2581" + word, word):
            for k in range(2, len(s)):
                v.add(s[:k], -5.0 - k * 0.01, int(tt.NORMAL))
    return v


def write_model(out: Path) -> None:
    gguf: Any = importlib.import_module("gguf")
    rng = np.random.default_rng(SEED)
    vocab = build_vocab(gguf)
    n_vocab = len(vocab.tokens)
    head_dim = N_EMBD // N_HEAD

    def rand(*shape: int, scale: float = 0.02) -> npt.NDArray[np.float32]:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def ones(n: int) -> npt.NDArray[np.float32]:
        return np.ones(n, dtype=np.float32)

    tmp = out.with_name(out.name + ".tmp")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name("tiny-random-llama")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(vocab.tokens)
    w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    w.add_bos_token_id(BOS_ID)
    w.add_eos_token_id(IM_END_ID)
    w.add_unk_token_id(0)
    w.add_pad_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    # numpy shapes are (out, in); gguf stores the dims reversed, as llama.cpp expects.
    w.add_tensor("token_embd.weight", rand(n_vocab, N_EMBD, scale=1.0))
    w.add_tensor("output_norm.weight", ones(N_EMBD))
    w.add_tensor("output.weight", rand(n_vocab, N_EMBD, scale=0.5))
    for i in range(N_LAYER):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(N_EMBD))
        w.add_tensor(p + "attn_q.weight", rand(N_HEAD * head_dim, N_EMBD))
        w.add_tensor(p + "attn_k.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
        w.add_tensor(p + "attn_v.weight", rand(N_HEAD_KV * head_dim, N_EMBD))
        w.add_tensor(p + "attn_output.weight", rand(N_EMBD, N_HEAD * head_dim))
        w.add_tensor(p + "ffn_norm.weight", ones(N_EMBD))
        w.add_tensor(p + "ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", rand(N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tmp.replace(out)


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "tiny-llama.gguf")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_model(out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
