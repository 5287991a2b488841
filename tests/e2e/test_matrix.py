"""Every one of the 64 answer combinations, run: built as rendered, started by its compose file, and
answering a real MCP client (through nginx with TLS and a token where the answers chose nginx).

The eight SDK x transport x nginx combinations get the full battery in test_deployments.py; here
each combination gets one smoke run. With extra paths the template is applied to an existing server
repository that needs them; without, to an empty folder, so the example server is what runs.
"""

from __future__ import annotations

import pytest
from answer_sets import combinations
from fixture_repos import ANSWERS, apply_template, checkout_fixture
from mcp_probe import list_and_call

from .deployment import TOKEN, Deployment, nginx_answers, unique_image
from .ports import free_port

COMBINATIONS = list(combinations())
FIXTURE_FOR_SDK = {"mcp1-fastmcp": "fastmcp_repo", "mcp1-lowlevel": "lowlevel_repo"}


@pytest.mark.parametrize("answers", [a for _, a in COMBINATIONS], ids=[i for i, _ in COMBINATIONS])
def test_combination_serves(
    answers, tmp_path, docker_engine, docker_build_flags, private_git, private_build_flags, tls_certs
):
    answers = {**answers, "image": unique_image("matrix"), "port": free_port()}
    if answers["extra_paths"]:
        fixture = FIXTURE_FOR_SDK[answers["sdk"]]
        repo = checkout_fixture(fixture, tmp_path / "repo")
        fixture_answers = {k: v for k, v in ANSWERS[fixture].items() if k != "env_vars"}
        answers |= fixture_answers  # the paths that repository really needs
    else:
        repo = tmp_path / "repo"
    if answers["use_nginx"]:
        answers |= nginx_answers(tmp_path, tls_certs)
    if answers["private_deps"]:
        answers["private_deps_host"] = private_git.host
    apply_template(repo, **answers)

    deployment = Deployment(None, repo, answers, docker_engine, {})
    try:
        if answers["private_deps"]:
            with (repo / "requirements.txt").open("a") as requirements:
                requirements.write(private_git.requirement() + "\n")
            deployment.build(private_build_flags, CR_PAT=private_git.token)
        else:
            deployment.build(docker_build_flags)
        deployment.compose_up()
        deployment.wait_serving()
        kwargs = {}
        if answers["use_nginx"]:
            deployment.start_nginx(tmp_path / "nginx")
            kwargs = {"headers": {"Authorization": f"Bearer {TOKEN}"}, "verify": tls_certs.ssl_context()}
        tools, text = list_and_call(deployment.url, answers["transport"], **kwargs)
        assert "add" in tools and text == "5"
    finally:
        deployment.stop()
