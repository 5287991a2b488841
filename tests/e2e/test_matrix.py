"""A covering set of the answer combinations, run: built as rendered, started by its compose file,
and answering a real MCP client (through nginx with TLS and a token where the answers chose nginx).

The full product (5 generations x 2 transports x 4 dependency sources x nginx x private deps x
extras = 320) is rendered and linted by the fast suite; here every PAIR of answers occurs in at
least one run (tests/answer_sets.py covering_combinations, 22 runs), except private git
dependencies with uv.lock or poetry.lock, whose lock would have to be made against the private host.
Each run is a new project: the example server, and for pyproject.toml, uv.lock and poetry.lock the
dependency files of tests/fixtures/new_project_locks. The battery on each generation is in
test_deployments.py.
"""

from __future__ import annotations

import pytest
from answer_sets import covering_combinations
from fixture_repos import apply_template, prepare_new_project
from mcp_probe import list_and_call

from .deployment import Deployment, nginx_answers, port_answers, unique_image

COVERING = list(covering_combinations())


def add_private_requirement(repo, answers, requirement: str) -> None:
    if answers["dependencies"] == "requirements.txt":
        with (repo / "requirements.txt").open("a") as requirements:
            requirements.write(requirement + "\n")
    else:
        pyproject = repo / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('dependencies = ["', f'dependencies = ["{requirement}", "'))


@pytest.mark.parametrize("answers", [a for _, a in COVERING], ids=[i for i, _ in COVERING])
def test_combination_serves(
    answers, tmp_path, docker_engine, docker_build_flags, private_git, private_build_flags, tls_certs
):
    answers = {**answers, "image": unique_image("matrix"), **port_answers(answers["use_nginx"])}
    repo = tmp_path / "repo"
    prepare_new_project(repo, answers)
    if answers["use_nginx"]:
        answers |= nginx_answers(tls_certs)
    if answers["private_deps"]:
        answers["private_deps_host"] = private_git.host
    apply_template(repo, **answers)

    deployment = Deployment(None, repo, answers, docker_engine, {})
    try:
        if answers["private_deps"]:
            add_private_requirement(repo, answers, private_git.requirement())
            deployment.build(private_build_flags, CR_PAT=private_git.token)
        else:
            deployment.build(docker_build_flags)
        deployment.compose_up()
        deployment.wait_serving()
        kwargs = {"headers": deployment.auth_headers}
        if answers["use_nginx"]:
            deployment.start_nginx(tmp_path / "nginx")
            kwargs["verify"] = tls_certs.ssl_context()
        tools, text = list_and_call(deployment.url, answers["transport"], **kwargs)
        assert "add" in tools and text == "5"
        docker = docker_engine.docker
        for package in answers["system_packages"]:
            assert docker("exec", deployment.service, package, "--version").strip()
        if answers["private_deps"]:
            docker("exec", deployment.service, "python", "-c", "import private_helpers")
    finally:
        deployment.stop()
