"""aiohttp is imported only when an async client on the aiohttp engine first sends.

Each check runs in a fresh interpreter, so that nothing the test runner imported counts.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from .rawserver import raw_server, respond

pytestmark = pytest.mark.timeout(60)

LABELS = b'[{"label":"POSITIVE","score":0.9}]'


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_hfinfer_does_not_import_aiohttp() -> None:
    _run("import hfinfer, sys; assert 'aiohttp' not in sys.modules, 'aiohttp imported'")


def test_clients_made_but_not_used_do_not_import_aiohttp() -> None:
    _run(
        """
        import sys
        from hfinfer import AsyncInferenceClient, InferenceClient
        InferenceClient("http://127.0.0.1:9").close()
        client = AsyncInferenceClient("http://127.0.0.1:9")
        assert client.engine == "aiohttp"
        assert "aiohttp" not in sys.modules
        """
    )


def test_the_first_async_send_imports_aiohttp() -> None:
    with raw_server(respond(LABELS)) as server:
        out = _run(
            f"""
            import asyncio, sys
            from hfinfer import AsyncInferenceClient

            async def main():
                async with AsyncInferenceClient({server.url!r}, token=False) as client:
                    assert "aiohttp" not in sys.modules
                    labels = await client.text_classification("hi")
                    assert "aiohttp" in sys.modules
                    assert "hfinfer._aiohttp" in sys.modules
                    print(labels[0].label)

            asyncio.run(main())
            """
        )
    assert out.strip() == "POSITIVE"


@pytest.mark.parametrize("engine", ["sync", "httpx"])
def test_the_httpx_engines_never_import_aiohttp(engine: str) -> None:
    with raw_server(respond(LABELS)) as server:
        call = (
            f"print(InferenceClient({server.url!r}, token=False).text_classification('hi')[0].label)"
            if engine == "sync"
            else f"""
async def main():
    async with AsyncInferenceClient({server.url!r}, token=False, engine="httpx") as client:
        print((await client.text_classification("hi"))[0].label)

asyncio.run(main())"""
        )
        out = _run(
            "import asyncio, sys\n"
            "from hfinfer import AsyncInferenceClient, InferenceClient\n"
            f"{call}\n"
            "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
        )
    assert out.strip() == "POSITIVE"
