"""Private dependencies: installed through the rendered Dockerfile with the token as a BuildKit secret,
and the token's bytes are nowhere in the image."""

from __future__ import annotations

import subprocess
import uuid

import httpx
from fixture_repos import ANSWERS, apply_template, checkout_fixture


def test_private_dependency_installs_and_the_token_leaves_no_trace(
    tmp_path, docker_engine, private_git, private_build_flags, tls_certs, docker_cleanup
):
    server, token = private_git, private_git.token
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
    docker_engine.docker.with_env(CR_PAT=token)("build", *private_build_flags, "--tag", image, str(repo))
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
