"""Private dependencies: installed through the rendered Dockerfile with the token as a BuildKit secret,
and the token's bytes are nowhere in the image."""

from __future__ import annotations

import secrets
import subprocess
import uuid

import httpx
import pytest
from fixture_repos import ANSWERS, apply_template, checkout_fixture

from .git_server import start_git_server


@pytest.fixture
def base_with_test_ca(docker_engine, base_image, tls_certs, tmp_path, docker_cleanup):
    """The stand-in base, trusting the test CA (as a real base trusts the real git host's CA)."""
    context = tmp_path / "ca-base"
    context.mkdir()
    (context / "ca.pem").write_bytes(tls_certs.ca_bundle.read_bytes())
    (context / "Dockerfile").write_text(
        f"FROM {base_image}\nCOPY ca.pem /tmp/ca.pem\n"
        "RUN cat /tmp/ca.pem >> /etc/ssl/certs/ca-certificates.crt && rm /tmp/ca.pem\n"
    )
    tag = docker_cleanup.image(f"e2e/base-with-test-ca:{uuid.uuid4().hex[:6]}")
    docker_engine.docker("build", "--tag", tag, str(context))
    return tag


def test_private_dependency_installs_and_the_token_leaves_no_trace(
    tmp_path, docker_engine, base_with_test_ca, tls_certs, docker_cleanup
):
    token = "ghp_" + secrets.token_hex(20)
    server = start_git_server(tmp_path / "git", tls_certs, token)
    try:
        # The git host really requires the token.
        info_refs = f"https://{server.host}/acme/private-helpers.git/info/refs"
        assert httpx.get(info_refs, verify=tls_certs.ssl_context()).status_code == 401
        assert httpx.get(info_refs, verify=tls_certs.ssl_context(), auth=("x-access-token", token)).status_code == 200

        repo = checkout_fixture("fastmcp_repo", tmp_path / "repo")
        with (repo / "requirements.txt").open("a") as requirements:
            requirements.write(server.requirement() + "\n")
        image = docker_cleanup.image(f"e2e/private-{uuid.uuid4().hex[:6]}:1")
        apply_template(
            repo,
            **ANSWERS["fastmcp_repo"],
            image=image.split(":")[0],
            use_nginx=False,
            private_deps=True,
            private_deps_host=server.host,
        )
        # As build-publish.sh builds (BuildKit, the token as the secret cr_pat from $CR_PAT); host
        # network to reach the git server on this machine's loopback.
        build = docker_engine.docker.with_env(CR_PAT=token)
        build(
            "build", "--network", "host", "--build-arg", f"PYTHON_IMAGE={base_with_test_ca}",
            "--secret", "id=cr_pat,env=CR_PAT", "--tag", image, str(repo),
        )  # fmt: skip
        assert "x-access-token" in server.nginx.access_log()  # the clone was authenticated

        greeting = docker_engine.docker(
            "run", "--rm", image, "python", "-c", "import private_helpers as p; print(p.GREETING)"
        )
        assert greeting.strip() == "hello from a private repository"

        history = docker_engine.docker("history", "--no-trunc", image)
        inspect = docker_engine.docker("inspect", image)
        saved = subprocess.run(
            [str(docker_engine.docker_path), "save", image],
            env=docker_engine.full_env(),
            capture_output=True,
            check=True,
        ).stdout
        # The saved layers are searchable as they are: the private package's own text is found in them.
        assert b"hello from a private repository" in saved
        assert history.count(token) == 0
        assert inspect.count(token) == 0
        assert saved.count(token.encode()) == 0
    finally:
        server.nginx.stop()
