"""Developer and CI tasks. `nox` runs the default sessions: lint, typecheck, tests, check_generated, wheel."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests", "check_generated", "wheel"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"
DEV = ".[dev]"


def _install_dev(session: nox.Session) -> None:
    session.install("-e", DEV)


@nox.session(python=PYTHON)
def generate(session: nox.Session) -> None:
    """Regenerate generated/ from schemas/."""
    _install_dev(session)
    session.run("python", "-m", "codegen", "generate")


@nox.session(python=PYTHON)
def check_generated(session: nox.Session) -> None:
    """Fail when generated/ differs from what the generator makes of schemas/."""
    _install_dev(session)
    session.run("python", "-m", "codegen", "check")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    _install_dev(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/, codegen/ and generated/.

    The package maps generated/ into hfinfer as hfinfer._generated (pyproject.toml), which mypy
    cannot follow; so it checks a copy laid out as the wheel is, and reports the files' own paths.
    """
    import shutil
    from pathlib import Path

    _install_dev(session)
    tree = Path(session.create_tmp()) / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree("src/hfinfer", tree / "hfinfer")
    shutil.copytree("generated", tree / "hfinfer" / "_generated")
    output = session.run("mypy", env={"MYPYPATH": str(tree)}, silent=True, success_codes=[0, 1, 2])
    mapped = (
        str(output)
        .replace(f"{tree}/hfinfer/_generated/", "generated/")
        .replace(f"{tree}/hfinfer/", "src/hfinfer/")
    )
    print(mapped, end="")
    if not mapped.rstrip().splitlines()[-1].startswith("Success"):
        session.error("mypy found errors")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, contract and generator tests (respx; no network)."""
    _install_dev(session)
    session.run("pytest", "-q", *session.posargs)


@nox.session(python="3.10")
def compat(session: nox.Session) -> None:
    """The runtime's tests on the oldest supported Python (needs a python3.10 on PATH).

    The generator's own tests are left out: datamodel-code-generator deprecates Python 3.10,
    and the generator (a development tool) runs on 3.11 in the other sessions.
    """
    _install_dev(session)
    session.run("pytest", "-q", "--ignore=tests/codegen", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """10,000 sync and 10,000 async calls against the fault server, ~10% of them faulted."""
    _install_dev(session)
    session.run(
        "python",
        "-m",
        "tests.faults.soak",
        "--calls",
        "10000",
        "--fault-rate",
        "0.1",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def wheel(session: nox.Session) -> None:
    """Build a wheel, install it (not editable) and run the surface tests against it."""
    session.install("build==1.6.1", "pytest==9.0.3", "pytest-asyncio==1.5.0", "respx==0.23.1")
    tmp = session.create_tmp()
    # The sdist first, then the wheel built from it: both must carry generated/ inside hfinfer.
    session.run("python", "-m", "build", "--outdir", tmp, silent=True)
    import glob

    (built,) = glob.glob(f"{tmp}/hfinfer-*.whl")
    session.install("--force-reinstall", f"{built}[all]")
    session.run("python", "tests/wheel_smoke.py", built)


@nox.session(python=PYTHON)
def integration(session: nox.Session) -> None:
    """Integration tests against real servers started on 127.0.0.1 (set-up cached in .cache/)."""
    _install_dev(session)
    session.run("python", "tests/realservers/setup_servers.py")
    session.run("pytest", "-q", "-m", "realserver", "tests/realservers", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The tour: regenerate, start the local servers, make real calls, stop them."""
    _install_dev(session)
    session.run("python", "-m", "codegen", "generate")
    session.run("python", "tests/realservers/setup_servers.py")
    session.run("python", "examples/tour.py")


# huggingface_hub 0.26 is the last minor before the httpx rewrite whose AsyncInferenceClient sends
# through aiohttp (its sync client through requests). It cannot share a venv with the latest
# release, so the bench session keeps a second venv beside its own for it (see bench/README.md).
BENCH_HUB_OLD = "huggingface_hub==0.26.5"


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark hfinfer against bare httpx and aiohttp, huggingface_hub (latest and 0.26) and openai.

    Not a default session; `nox -s bench -- --quick` for a short run. Writes
    bench-results/results.json and bench-results/results.md. `nox -s bench -- --batch [...]`
    runs the batch benchmark instead (bench/batch_bench.py, issue 12: `hfinfer batch` vs a bare
    aiohttp loop, peak RSS; writes bench-results/batch.json); its `--ray` part needs the `ray`
    extra: `.nox/ray/bin/python bench/batch_bench.py --ray --rounds 0 --rss-rows 0`.
    """
    import os

    session.install("-e", ".[numpy]")
    if session.posargs[:1] == ["--batch"]:
        session.install("--upgrade", "aiohttp")  # the bare loop on the same aiohttp as the bench's
        session.run("python", "bench/batch_bench.py", *session.posargs[1:])
        return
    # The peers, latest releases (their versions are recorded in the results).
    session.install("--upgrade", "huggingface_hub", "openai", "aiohttp")
    # The second venv, for huggingface_hub 0.26: the same aiohttp and numpy as this one, so that
    # hub 0.26 and bare aiohttp run on the same aiohttp.
    same = session.run_install(
        "python",
        "-c",
        "from importlib.metadata import version as v; print(v('aiohttp'), v('numpy'))",
        silent=True,
    )
    aiohttp_version, numpy_version = str(same).split()
    old = os.path.join(os.path.dirname(session.virtualenv.location), "bench-hub-0.26")
    old_python = os.path.join(old, "bin", "python")
    if not os.path.exists(old_python):
        session.run_install("python", "-m", "venv", old)
    session.run_install(
        old_python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        BENCH_HUB_OLD,
        f"aiohttp=={aiohttp_version}",
        f"numpy=={numpy_version}",
        external=True,
    )
    session.run("python", "bench/run.py", "--hub-old-python", old_python, *session.posargs)


@nox.session(python=PYTHON)
def ray(session: nox.Session) -> None:
    """The Ray Data stage (`hfinfer.ray`) on a local Ray cluster the tests start (617 MB install)."""
    session.install("-e", ".[dev,ray]")
    session.run("pytest", "-q", "-m", "ray", "tests/ray", *session.posargs)
