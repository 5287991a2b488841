"""Fixtures for end-to-end tests against real components (dockerd, registry, nginx, TLS).

Lifetimes, on purpose:
* ``docker_engine``: a dockerd this session started is stopped at its end; its data root
  (/var/cache/mcp-docker-template) keeps the stand-in base image and build cache on disk, so
  later sessions on the same machine skip the ~1 min debootstrap + import.
* ``registry`` (session), ``tls_certs`` (session, files only), ``nginx_factory`` and
  ``docker_cleanup`` (function) stop or remove everything they started.

Every test collected under tests/e2e gets the ``e2e`` marker (deselect with ``-m "not e2e"``).
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

import pytest

from extensions.deployment import OBSERVABILITY_PACKAGES

from .base_image import base_trusting, ensure_base_image, network_flags, proxy_build_args
from .cache import file_lock
from .certs import TlsCerts, make_certs
from .docker_engine import DockerEngine, engine_answers, ensure_docker_engine, stop_managed_dockerd
from .git_server import GitServer, start_git_server
from .nginx import Nginx
from .registry import Registry

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before each test's fixtures, the suite's own engine answers: if it stopped (it once panicked
    mid-run), it is started again, so a crash costs the tests it interrupted, not every test after
    it. The terminal summary shows what dockerd printed when it stopped (tests/conftest.py)."""
    engine = item.config.stash.get(_ENGINE, None)
    if engine is not None and engine.is_the_suites_own and not engine_answers(engine):
        ensure_docker_engine()


_ENGINE = pytest.StashKey[DockerEngine]()


@pytest.fixture(scope="session")
def docker_engine(pytestconfig) -> DockerEngine:
    """A running Docker engine; use ``.docker``/``.env()``.

    One that was already running is left as it was; one this session started is stopped at its
    end. Its images (the stand-in base, build cache) stay on disk, so the next start is quick.
    """
    engine = ensure_docker_engine()
    if engine.started_here:
        # Our own daemon (data root under the test cache): what a killed earlier run left behind
        # goes. Its containers restart with the daemon (restart: unless-stopped) and would take
        # CPU from this run; its networks use up address pools; a swarm would outlive it.
        leftovers = engine.docker("ps", "--all", "--quiet").split()
        if leftovers:
            engine.docker.run(["rm", "--force", *leftovers], retcode=None)
        if engine.docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() == "active":
            engine.docker.run(["swarm", "leave", "--force"], retcode=None)
        engine.docker.run(["network", "prune", "-f"], retcode=None)
    pytestconfig.stash[_ENGINE] = engine
    yield engine
    # Under pytest-xdist the engine is the workers' together: the one that started it may finish
    # first, so it is left running (its data root is kept anyway).
    if engine.started_here and not os.environ.get("PYTEST_XDIST_WORKER"):
        stop_managed_dockerd()


@pytest.fixture(scope="session")
def base_image(docker_engine: DockerEngine) -> str:
    """Tag of the local python:3.13-slim stand-in (also tagged ``python:3.13-slim``); cached."""
    return ensure_base_image(docker_engine)


@pytest.fixture(scope="session")
def docker_build_flags(docker_engine: DockerEngine, base_image: str, tmp_path_factory) -> list[str]:
    """Extra ``docker build`` flags for this machine: stand-in base, network, proxy build args."""
    flags = [
        "--build-arg",
        f"PYTHON_IMAGE={base_image}",
        *network_flags(docker_engine),
        *proxy_build_args(),
    ]
    warm_observability_stage(docker_engine, flags, tmp_path_factory.mktemp("observability-stage"))
    return flags


def warm_observability_stage(engine: DockerEngine, flags: list[str], context: Path) -> None:
    """Build the images' `observability` stage once, before the tests build images side by side.

    Every rendered image has this same stage: built here once, under a lock, each later build finds
    it in the cache instead of the xdist workers installing it at the same time. (The engine's panic
    once blamed on that came from a --no-cache build beside another: see docker_engine.DOCKER_SHIM.)
    The text is the rendered Dockerfile's stage."""
    stage = (
        "ARG PYTHON_IMAGE=python:3.13-slim\n"
        "FROM ${PYTHON_IMAGE} AS observability\n"
        "RUN pip install --no-cache-dir --target /opt/observability \\\n"
        f"    {' '.join(OBSERVABILITY_PACKAGES)}\n"
    )
    (context / "Dockerfile").write_text(stage)
    with file_lock("observability-stage"):
        engine.docker("build", *flags, "--target", "observability", str(context))


@pytest.fixture(scope="session")
def registry(tmp_path_factory) -> Registry:
    """A private registry on 127.0.0.1:<free port>; push to ``f"{registry.address}/repo:tag"``."""
    reg = Registry(tmp_path_factory.mktemp("registry")).start()
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory) -> TlsCerts:
    """Test CA + server cert for localhost/127.0.0.1 (``ca_bundle``, ``cert_chain``, ``private_key``)."""
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def nginx_factory(tmp_path: Path):
    """``make(server_conf, **kw) -> Nginx`` (not started); every instance is stopped afterwards."""
    made: list[Nginx] = []

    def make(server_conf: Path, **kwargs) -> Nginx:
        nginx = Nginx(tmp_path / f"nginx-{len(made)}", Path(server_conf), **kwargs)
        made.append(nginx)
        return nginx

    yield make
    for nginx in made:
        nginx.stop()


class DockerCleanup:
    """Collects containers, images and compose projects a test made, removes them at teardown."""

    def __init__(self, engine: DockerEngine):
        self.engine = engine
        self.containers: list[str] = []
        self.images: list[str] = []
        self.compose_projects: list[tuple[Path, str]] = []

    def unique(self, prefix: str = "e2e") -> str:
        """A fresh lowercase name usable for containers, image repos and compose projects."""
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def container(self, name_or_id: str) -> str:
        self.containers.append(name_or_id)
        return name_or_id

    def image(self, ref: str) -> str:
        self.images.append(ref)
        return ref

    def compose(self, compose_file: Path, project: str) -> str:
        self.compose_projects.append((Path(compose_file), project))
        return project

    def cleanup(self) -> None:
        docker = self.engine.docker
        for file, project in reversed(self.compose_projects):
            self.engine.compose.run(
                ["-f", str(file), "-p", project, "down", "-t", "2", "--volumes", "--remove-orphans", "--rmi", "local"],
                retcode=None,
            )
        for c in reversed(self.containers):
            docker.run(["rm", "-f", "-v", c], retcode=None)
        for ref in reversed(self.images):
            docker.run(["image", "rm", "-f", ref], retcode=None)


@pytest.fixture
def docker_cleanup(docker_engine: DockerEngine):
    """Register what a test creates (``.container()``, ``.image()``, ``.compose()``); removed after."""
    tracker = DockerCleanup(docker_engine)
    yield tracker
    tracker.cleanup()


@pytest.fixture(scope="session")
def private_git(tmp_path_factory, tls_certs) -> GitServer:
    """A private git host over HTTPS that requires its token (a fresh one per session)."""
    server = start_git_server(tmp_path_factory.mktemp("git"), tls_certs, "ghp_" + secrets.token_hex(20))
    yield server
    server.nginx.stop()


@pytest.fixture(scope="session")
def base_with_test_ca(docker_engine, base_image, tls_certs, tmp_path_factory) -> str:
    """The stand-in base, trusting the test CA of tls_certs."""
    tag = base_trusting(docker_engine, base_image, tls_certs.ca_bundle, tmp_path_factory.mktemp("ca-base"))
    yield tag
    docker_engine.docker.run(["image", "rm", "-f", tag], retcode=None)


@pytest.fixture(scope="session")
def private_build_flags(base_with_test_ca, private_git) -> list[str]:
    """`docker build` flags for private dependencies, as build-publish.sh passes the secret (CR_PAT in the env)."""
    return [
        "--network",
        "host",  # the git host listens on this machine's loopback
        "--build-arg",
        f"PYTHON_IMAGE={base_with_test_ca}",
        "--secret",
        "id=cr_pat,env=CR_PAT",
    ]
