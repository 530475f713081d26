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
    """mypy --strict on src/, codegen/ and generated/ (through the hfinfer._generated link)."""
    _install_dev(session)
    session.run("mypy")


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
    session.run("python", "-m", "build", "--wheel", "--outdir", tmp, silent=True)
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


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark hfinfer against huggingface_hub (latest release) and bare httpx on loopback.

    Not a default session. Writes bench-results/results.json and bench-results/results.md.
    """
    session.install("-e", ".[numpy]")
    session.install("--upgrade", "huggingface_hub")
    session.run("python", "bench/run.py", *session.posargs)
