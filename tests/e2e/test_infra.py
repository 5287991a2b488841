"""Smoke tests proving the e2e infrastructure works for real on this machine (no mocks).

If one of these fails, the template's e2e tests would fail for infrastructure reasons, so they
check exactly what those tests rely on: BuildKit secret mounts through Debian's docker client,
pip reaching PyPI inside ``docker build``, port publishing on loopback, pushing to a registry,
nginx terminating TLS with the test CA, and docker-compose v1.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import httpx
import pytest

from .base_image import STANDIN_TAG, UPSTREAM_TAG
from .debian import is_installed
from .docker_engine import BUILD_LOCK
from .nginx import NginxError
from .ports import free_port, free_ports

SECRET_DOCKERFILE = """\
ARG PYTHON_IMAGE=python:3.13-slim
FROM ${PYTHON_IMAGE}
RUN --mount=type=secret,id=cr_pat \\
    test -s /run/secrets/cr_pat \\
    && sha256sum /run/secrets/cr_pat | cut -d' ' -f1 > /secret.sha256 \\
    && pip install --no-cache-dir six
RUN python -c "import six; print(six.__version__)"
WORKDIR /srv
RUN echo e2e-smoke-ok > /srv/index.html
EXPOSE 8000
CMD ["python", "-m", "http.server", "8000"]
"""


def _http_get(url: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _file_contains(path: Path, needle: bytes, chunk: int = 1 << 20) -> bool:
    tail = b""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


@pytest.fixture(scope="module")
def smoke_image(docker_engine, docker_build_flags, tmp_path_factory):
    """Image built FROM the stand-in with pip + a BuildKit secret; removed after the module.

    ``--no-cache``: BuildKit's cache key ignores secret contents, so a cached RUN would keep the
    previous run's secret hash (and would not prove pip reaches the index on this run).
    """
    ctx = tmp_path_factory.mktemp("smoke-ctx")
    (ctx / "Dockerfile").write_text(SECRET_DOCKERFILE)
    secret = "ghp_" + secrets.token_hex(20)
    tag = f"mcp-template-test/e2e-smoke:{secrets.token_hex(4)}"
    t0 = time.monotonic()
    docker_engine.docker.with_env(CR_PAT=secret).run(
        ["build", "--no-cache", *docker_build_flags, "--secret", "id=cr_pat,env=CR_PAT", "-t", tag, str(ctx)],
        timeout=900,
    )
    build_seconds = time.monotonic() - t0
    yield {"tag": tag, "secret": secret, "ctx": ctx, "build_seconds": build_seconds}
    docker_engine.docker.run(["image", "rm", "-f", tag], retcode=None)


def test_debian_packages_installed(docker_engine):
    for pkg in ("docker.io", "docker-compose"):
        assert is_installed(pkg)


def test_engine_env_prefers_debian_docker_client(docker_engine):
    env = docker_engine.env()
    assert env["DOCKER_BUILDKIT"] == "1"
    assert env["DOCKER_HOST"] == docker_engine.docker_host
    found = shutil.which("docker", path=env["PATH"])  # the shim that runs Debian's, builds locked
    client = subprocess.run([found, "version", "--format", "{{.Client.Version}}"], env=docker_engine.full_env(),
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert client.stdout.startswith("20.10"), client.stdout
    compose = shutil.which("docker-compose", path=env["PATH"])
    assert compose and os.path.realpath(compose) == "/usr/bin/docker-compose"
    assert docker_engine.server_version().startswith("20.10")
    assert docker_engine.docker("info", "--format", "{{.Driver}}").strip() == "overlay2"


def test_base_image_is_tagged_both_ways(docker_engine, base_image):
    assert base_image == STANDIN_TAG
    ids = {
        docker_engine.docker("image", "inspect", "--format", "{{.Id}}", ref).strip()
        for ref in (STANDIN_TAG, UPSTREAM_TAG)
    }
    assert len(ids) == 1
    out = docker_engine.docker("run", "--rm", base_image, "sh", "-c", "python --version && pip --version")
    assert "Python 3" in out


def test_build_with_pip_and_secret_leaves_no_secret(docker_engine, smoke_image, tmp_path):
    tag, secret = smoke_image["tag"], smoke_image["secret"]
    # the secret really was mounted during the build (only its hash is kept)
    recorded = docker_engine.docker("run", "--rm", tag, "cat", "/secret.sha256").strip()
    assert recorded == hashlib.sha256(secret.encode()).hexdigest()
    history = docker_engine.docker("history", "--no-trunc", tag)
    assert secret not in history
    saved = tmp_path / "image.tar"
    docker_engine.docker("save", "-o", str(saved), tag)
    assert saved.stat().st_size > 1_000_000
    assert not _file_contains(saved, secret.encode())


def test_unmodified_dockerfile_builds_from_local_python_tag(docker_engine, docker_cleanup, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "ARG PYTHON_IMAGE=python:3.13-slim\nFROM ${PYTHON_IMAGE}\nRUN python -c 'import ssl, venv'\n"
    )
    tag = docker_cleanup.image(f"mcp-template-test/{docker_cleanup.unique('plain')}:t")
    docker_engine.docker("build", "-t", tag, str(tmp_path))
    assert docker_engine.image_exists(tag)


def test_a_build_bypassing_the_cache_waits_for_the_builds_in_flight(docker_engine, docker_cleanup, tmp_path):
    """dockerd 20.10's BuildKit panics, and the engine stops, when a --no-cache build solves steps
    another build is solving: the suite's docker runs such a build alone, and others side by side."""
    (tmp_path / "Dockerfile").write_text(
        "ARG PYTHON_IMAGE=python:3.13-slim\nFROM ${PYTHON_IMAGE}\nRUN python -c 'import ssl'\n"
    )
    tag = docker_cleanup.image(f"mcp-template-test/{docker_cleanup.unique('alone')}:t")
    build = [str(docker_engine.docker_path), "build", "--quiet", "--tag", tag, str(tmp_path)]
    with open(BUILD_LOCK, "a+") as in_flight:
        fcntl.flock(in_flight, fcntl.LOCK_SH)  # as an ordinary build holds it
        uncached = subprocess.Popen([*build[:2], "--no-cache", *build[2:]], env=docker_engine.full_env())
        time.sleep(3)
        assert uncached.poll() is None, "the --no-cache build did not wait"
        assert subprocess.run(build, env=docker_engine.full_env(), timeout=300).returncode == 0
    assert uncached.wait(timeout=300) == 0


def test_container_publishes_on_loopback(docker_engine, docker_cleanup, smoke_image):
    port = free_port()
    name = docker_cleanup.container(docker_cleanup.unique("http"))
    docker_engine.docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", smoke_image["tag"])
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "e2e-smoke-ok"


def test_push_to_local_registry(docker_engine, docker_cleanup, registry, smoke_image):
    repo = "e2e/smoke"
    tag = secrets.token_hex(4)
    ref = docker_cleanup.image(f"{registry.address}/{repo}:{tag}")
    docker_engine.docker("tag", smoke_image["tag"], ref)
    docker_engine.docker.run(["push", ref], timeout=600)
    assert tag in registry.tags(repo)
    assert repo in registry.catalog()
    assert registry.tags("e2e/does-not-exist") == []


def wait_answering(url: str, timeout: float = 60) -> None:
    """Until the container's server answers (docker-proxy accepts connections before it listens)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{url} does not answer"
        time.sleep(0.2)


def test_nginx_terminates_tls_and_proxies_to_container(
    docker_engine, docker_cleanup, smoke_image, tls_certs, nginx_factory, tmp_path
):
    backend, https_port = free_ports(2)
    name = docker_cleanup.container(docker_cleanup.unique("backend"))
    docker_engine.docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{backend}:8000", smoke_image["tag"])
    wait_answering(f"http://127.0.0.1:{backend}/")
    conf = tmp_path / "site.conf"
    conf.write_text(f"""
server {{
    listen 127.0.0.1:{https_port} ssl;
    server_name localhost;
    ssl_certificate {tls_certs.cert_chain};
    ssl_certificate_key {tls_certs.private_key};
    location / {{
        proxy_pass http://127.0.0.1:{backend};
        proxy_set_header Host $host;
    }}
}}
""")
    nginx = nginx_factory(conf)
    assert "syntax is ok" in nginx.check()
    nginx.start(wait_ports=[https_port])
    with httpx.Client(verify=tls_certs.ssl_context(), timeout=10) as client:
        for host in ("localhost", "127.0.0.1"):
            r = client.get(f"https://{host}:{https_port}/")
            assert r.status_code == 200 and r.text.strip() == "e2e-smoke-ok"
    with pytest.raises(httpx.ConnectError):  # not trusted without the test CA
        httpx.get(f"https://localhost:{https_port}/", timeout=10)
    nginx.reload()
    with httpx.Client(verify=tls_certs.ssl_context(), timeout=10) as client:
        assert client.get(f"https://localhost:{https_port}/").status_code == 200
    assert "GET / HTTP/1.1" in nginx.access_log()
    nginx.stop()


def test_nginx_check_reports_bad_config(nginx_factory, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("server { listen 127.0.0.1:1 ssl; no_such_directive on; }\n")
    with pytest.raises(NginxError, match="no_such_directive"):
        nginx_factory(conf).check()


def test_docker_compose_up_down_with_buildkit_build(docker_engine, docker_cleanup, base_image, tmp_path):
    port = free_port()
    (tmp_path / "Dockerfile").write_text(
        "ARG PYTHON_IMAGE=python:3.13-slim\nFROM ${PYTHON_IMAGE}\n"
        "RUN --mount=type=cache,target=/root/.cache echo buildkit-only-syntax\n"
        "WORKDIR /srv\nRUN echo compose-ok > index.html\n"
    )
    compose_file = tmp_path / "compose.yml"
    compose_file.write_text(f"""
version: "3.8"
services:
  web:
    build:
      context: .
      args:
        PYTHON_IMAGE: {base_image}
    command: ["python", "-m", "http.server", "8000"]
    ports:
      - "127.0.0.1:{port}:8000"
""")
    project = docker_cleanup.compose(compose_file, docker_cleanup.unique("compose"))
    compose = docker_engine.compose["-f", str(compose_file), "-p", project]
    compose.run(["up", "-d", "--build"], timeout=600)
    assert _http_get(f"http://127.0.0.1:{port}/").strip() == "compose-ok"
    compose.run(["down", "-t", "2", "--rmi", "local"], timeout=300)  # http.server as PID 1 ignores SIGTERM
    ps = docker_engine.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "-q")
    assert ps.strip() == ""
