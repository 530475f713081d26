"""Run by `nox -s wheel`: the built wheel (not the source tree) works on its own.

Checks that hfinfer imports from site-packages with its generated clients inside, and makes one
mocked call through each client.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import respx

import hfinfer
from hfinfer import AsyncInferenceClient, InferenceClient

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    location = Path(hfinfer.__file__).resolve()
    assert "site-packages" in location.parts, f"hfinfer not imported from the wheel: {location}"
    assert (ROOT / "src") not in location.parents, (
        f"hfinfer imported from the source tree: {location}"
    )
    generated = location.parent / "_generated"
    assert (generated / "client.py").is_file() and not generated.is_symlink(), generated
    assert (location.parent / "py.typed").is_file()
    with respx.mock(assert_all_called=True, using="httpx") as mock:
        route = mock.post("http://127.0.0.1:9/").mock(
            return_value=httpx.Response(200, json=[[{"label": "POSITIVE", "score": 0.99}]])
        )
        out = InferenceClient("http://127.0.0.1:9/", token=False).text_classification("good")
        assert out[0].label == "POSITIVE" and out[0]["score"] == 0.99

        async def run() -> None:
            async with AsyncInferenceClient("http://127.0.0.1:9/", token=False) as client:
                out = await client.text_classification("good")
                assert out[0].label == "POSITIVE"

        asyncio.run(run())
        assert route.call_count == 2
    print(f"wheel OK: {location} ({sys.argv[1:]})")


if __name__ == "__main__":
    main()
