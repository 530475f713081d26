"""Start and stop the real inference servers on 127.0.0.1 (free ports, logs under the cache).

Each ``start_*`` function returns a :class:`RunningServer` once the server answers its
readiness probe. Stop it with ``.stop()`` or use it as a context manager; any server still
running when the interpreter exits is stopped too. Servers are stopped by their own PID:
SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from setup_servers import OFFLINE_ENV, Paths, ensure_setup

HOST = "127.0.0.1"
PIPELINE_READY_TIMEOUT = 180.0  # torch + sentence-transformers import and model load
LLAMA_READY_TIMEOUT = 60.0
STOP_GRACE = 10.0

TINY_LLAMA_ALIAS = "tiny-llama"
MINILM_ALIAS = "minilm"

_running: set[RunningServer] = set()


class ServerStartError(RuntimeError):
    pass


class RunningServer:
    """A server process we started; ``url`` is ``http://127.0.0.1:PORT`` (no trailing slash)."""

    def __init__(
        self, name: str, proc: subprocess.Popen[bytes], port: int, log_path: Path, log: IO[bytes]
    ) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.log_path = log_path
        self._log = log
        self.started_at = time.monotonic()
        self.ready_seconds: float | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the PID, wait, then SIGKILL. Safe to call more than once."""
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=STOP_GRACE)
        finally:
            _running.discard(self)
            if not self._log.closed:
                self._log.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.name!r}, url={self.url!r}, pid={self.pid})"


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        with contextlib.suppress(Exception):
            server.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _probe(url: str) -> int | None:
    """The HTTP status of ``GET url``, or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=2.0) as resp:
            status: int = resp.status
            return status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the test process dies, even by SIGKILL or
    os._exit (where neither fixtures nor atexit run)."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _prune_logs(logs: Path, name: str, keep: int = 10) -> None:
    """Keep the newest ``keep`` logs of this server kind (one log per start, named by port)."""
    old = sorted(logs.glob(f"server-{name}-*.log"), key=lambda f: f.stat().st_mtime)
    for f in old[:-keep] if keep else old:
        with contextlib.suppress(OSError):
            f.unlink()


def _start(
    name: str,
    cmd_for_port: Sequence[str],
    ready_path: str,
    timeout: float,
    p: Paths,
    env: Mapping[str, str] | None = None,
    attempts: int = 3,
) -> RunningServer:
    """Start ``cmd`` (``{port}`` filled in) and wait until ``GET ready_path`` returns 200."""
    p.logs.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(OFFLINE_ENV)
    if env:
        full_env.update(env)
    _prune_logs(p.logs, name)
    last_error = ""
    for _attempt in range(attempts):
        port = free_port()
        log_path = p.logs / f"server-{name}-{port}.log"
        log = log_path.open("wb")
        cmd = [c.format(port=port) for c in cmd_for_port]
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        server = RunningServer(name, proc, port, log_path, log)
        _running.add(server)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not server.alive():
                break
            if _probe(server.url + ready_path) == 200:
                server.ready_seconds = time.monotonic() - server.started_at
                return server
            time.sleep(0.1)
        alive = server.alive()
        server.stop()
        last_error = (
            f"{name} {'did not get ready within ' + str(timeout) + ' s' if alive else 'exited'}"
            f" (port {port}); log {log_path}:\n{server.log_tail()}"
        )
        if alive:  # a timeout will not get better with another port
            break
    raise ServerStartError(last_error)


def start_pipeline_server(
    p: Paths | None = None, task: str = "feature-extraction"
) -> RunningServer:
    """The api-inference-community app (``aic_app.py``): HF pipeline API, all-MiniLM-L6-v2."""
    p = p or ensure_setup(verbose=False)
    cmd = [
        str(p.python),
        "-m",
        "uvicorn",
        "aic_app:app",
        "--app-dir",
        str(p.app_dir),
        "--host",
        HOST,
        "--port",
        "{port}",
        "--log-level",
        "info",
        "--no-access-log",
    ]
    return _start(
        "pipeline", cmd, "/", PIPELINE_READY_TIMEOUT, p, env={"TASK": task, "PYTHONUNBUFFERED": "1"}
    )


def _llama_cmd(p: Paths, model: Path, alias: str, extra: Sequence[str]) -> list[str]:
    return [
        str(p.llama_server),
        "-m",
        str(model),
        "--alias",
        alias,
        "--host",
        HOST,
        "--port",
        "{port}",
        "-c",
        "1024",
        "-t",
        "1",
        "-np",
        "1",
        "--no-webui",
        *extra,
    ]


def start_llama_chat_server(p: Paths | None = None) -> RunningServer:
    """llama.cpp's llama-server with the tiny random Llama (OpenAI chat, ChatML template)."""
    p = p or ensure_setup(verbose=False)
    cmd = _llama_cmd(p, p.tiny_llama_gguf, TINY_LLAMA_ALIAS, [])
    return _start("llama-chat", cmd, "/health", LLAMA_READY_TIMEOUT, p)


def start_llama_embedding_server(p: Paths | None = None) -> RunningServer:
    """llama.cpp's llama-server with all-MiniLM-L6-v2 (OpenAI ``/v1/embeddings``)."""
    p = p or ensure_setup(verbose=False)
    cmd = _llama_cmd(p, p.minilm_gguf, MINILM_ALIAS, ["--embedding"])
    return _start("llama-embed", cmd, "/health", LLAMA_READY_TIMEOUT, p)
