"""The rendered GitHub workflow's own steps, run here as GitHub runs them (bash -eo pipefail, in the
checkout, with the variables GitHub sets and the step's env with its secrets filled in) against a
real local registry and a real private git host.

The steps that are actions (checkout, setup-buildx, setup-qemu) are not run: the project folder is
the checkout, and no buildx is installed here, so build-publish.sh takes its docker build + push
path; its buildx path (several platforms, SBOM and provenance) is checked by actionlint, zizmor and
shellcheck only. The registry asks for no login, so the login step runs and is accepted as is.
The test machine's git host listens on loopback and its certificate is the tests' own CA, so the
builds get BUILD_OPTIONS (host network, a base image trusting that CA), as a user's would for a
registry mirror.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest
from fixture_repos import ANSWERS, apply_template, checkout_fixture

from .ports import free_port

pytestmark = pytest.mark.e2e

REPOSITORY = "acme/weather-mcp"
COMMIT = "4f1c2b7e9d0a3c5e8b6f1a2d4c7e9b0a3d5f8c1e"
EXPRESSION = re.compile(r"\$\{\{ *([a-z_.A-Z]+) *\}\}")


@pytest.fixture(scope="module")
def project(docker_engine, base_with_test_ca, private_git, registry, tmp_path_factory):
    """The fixture repository with the template applied for GitHub: private dependencies on the
    private git host, the image on the local registry."""
    repo = checkout_fixture("fastmcp_repo", tmp_path_factory.mktemp("workflow") / "repo")
    with (repo / "requirements.txt").open("a") as requirements:
        requirements.write(private_git.requirement() + "\n")
    image = f"{registry.address}/e2e/workflow-{uuid.uuid4().hex[:6]}"
    apply_template(
        repo,
        **ANSWERS["fastmcp_repo"],
        image=image,
        use_nginx=False,
        port=free_port(),
        private_deps=True,
        private_deps_host=private_git.host,
        github_workflow=True,
    )
    yield repo, image
    docker_engine.docker.run(["logout", registry.address], retcode=None)  # the login step's
    for tag in ("local", "1.4.0", "1.5.0-rc.1", "latest"):
        docker_engine.docker.run(["image", "rm", "-f", f"{image}:{tag}"], retcode=None)


def github_variables(event: str, ref: str) -> dict[str, str]:
    """What GitHub sets for every step of a run (the part the steps here read)."""
    return {
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": event,
        "GITHUB_REF": ref,
        "GITHUB_REF_NAME": ref.rsplit("/", 1)[-1],
        "GITHUB_REF_TYPE": "tag" if ref.startswith("refs/tags/") else "branch",
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_SHA": COMMIT,
        "GITHUB_ACTOR": "octocat",
        "RUNNER_OS": "Linux",
    }


def run_job(repo, engine, job: str, event: str, ref: str, secrets: dict[str, str], extra_env: dict[str, str]):
    """Each `run` step of the job in order, as GitHub runs it; returns [(step name, completed process)].
    Stops at the first failing step, as GitHub does (steps marked `if: always()` still run)."""
    from linters import load_workflow

    workflow = load_workflow(repo / ".github/workflows/mcp-image.yml")
    context = {"github.actor": "octocat", **{f"secrets.{name}": value for name, value in secrets.items()}}
    results, failed = [], False
    for step in workflow["jobs"][job]["steps"]:
        if "run" not in step or (failed and step.get("if") != "always()"):
            continue
        step_env = {name: EXPRESSION.sub(lambda m: context[m[1]], value) for name, value in step.get("env", {}).items()}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=repo,
            env={**engine.full_env(), **github_variables(event, ref), **extra_env, **step_env},
            capture_output=True,
            text=True,
            timeout=900,
        )
        results.append((step.get("name", step["run"]), done))
        failed = failed or done.returncode != 0
    return results


def build_options(base_with_test_ca: str) -> dict[str, str]:
    return {"BUILD_OPTIONS": f"--network host --build-arg PYTHON_IMAGE={base_with_test_ca}"}


def test_a_pull_request_builds_the_image_and_calls_a_tool_in_it(
    project, docker_engine, base_with_test_ca, private_git, docker_cleanup
):
    repo, image = project
    docker_cleanup.container("mcp-check")
    steps = run_job(
        repo,
        docker_engine,
        "check",
        "pull_request",
        "refs/pull/7/merge",
        {"CR_PAT": private_git.token},
        build_options(base_with_test_ca),
    )
    names = [name for name, _ in steps]
    assert names == ["Build the image (not published)", "Start it and check it as a client does", "The server's log"]
    for name, done in steps:
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
    check = steps[1][1].stdout
    assert "ok    start" in check and "ok    auth       401 without a token" in check, check
    assert "ok    MCP" in check and "answered" in check, check
    assert "bearer tokens from /app/mcp-tokens/clients.sha256" in steps[2][1].stdout + steps[2][1].stderr
    labels = json.loads(docker_engine.docker("inspect", "--format", "{{json .Config.Labels}}", f"{image}:local"))
    assert labels["org.opencontainers.image.source"] == f"https://github.com/{REPOSITORY}"
    assert not (repo / "VERSION").exists()


def test_a_version_tag_publishes_its_version_and_the_token_is_nowhere(
    project, docker_engine, base_with_test_ca, private_git, registry, docker_cleanup
):
    repo, image = project
    repository = image.split("/", 1)[1]
    secrets = {"CR_PAT": private_git.token, "REGISTRY_USERNAME": "ci", "REGISTRY_TOKEN": "registry-password"}
    options = build_options(base_with_test_ca)
    assert "if: startsWith(github.ref, 'refs/tags/v')" in (repo / ".github/workflows/mcp-image.yml").read_text()

    docker_cleanup.container("mcp-check")
    # The tag's own check first: publish needs it.
    workflow = (repo / ".github/workflows/mcp-image.yml").read_text()
    assert "    needs: check\n" in workflow
    checked = run_job(repo, docker_engine, "check", "push", "refs/tags/v1.4.0", secrets, options)
    assert all(done.returncode == 0 for _, done in checked), [(name, done.stdout[-500:]) for name, done in checked]
    docker_engine.docker("rm", "-f", "mcp-check")

    steps = run_job(repo, docker_engine, "publish", "push", "refs/tags/v1.4.0", secrets, options)
    assert [name for name, _ in steps] == ["Log in to " + image.split("/")[0], "Build and publish the tag's version"]
    for name, done in steps:
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
    assert registry.tags(repository) == ["1.4.0", "latest"]
    assert registry.digest(repository, "1.4.0") == registry.digest(repository, "latest")
    assert not (repo / "VERSION").exists()  # a tag's version is the tag's, not the next whole number

    # A pre-release is published under its version and leaves :latest where it was.
    steps = run_job(repo, docker_engine, "publish", "push", "refs/tags/v1.5.0-rc.1", secrets, options)
    assert all(done.returncode == 0 for _, done in steps), steps[-1][1].stderr
    assert registry.tags(repository) == ["1.4.0", "1.5.0-rc.1", "latest"]
    assert registry.digest(repository, "latest") == registry.digest(repository, "1.4.0")

    # What landed in the registry, pulled afresh: labelled for GHCR, and without the token's bytes.
    published = f"{image}:1.4.0"
    docker_engine.docker("image", "rm", "-f", published, f"{image}:latest")
    docker_engine.docker("pull", published)
    labels = json.loads(docker_engine.docker("inspect", "--format", "{{json .Config.Labels}}", published))
    assert labels["org.opencontainers.image.source"] == f"https://github.com/{REPOSITORY}"
    assert labels["org.opencontainers.image.revision"] == COMMIT
    assert labels["org.opencontainers.image.version"] == "1.4.0"
    token = private_git.token
    history = docker_engine.docker("history", "--no-trunc", published)
    inspect = docker_engine.docker("inspect", published)
    command = [str(docker_engine.docker_path), "save", published]
    saved = subprocess.run(command, env=docker_engine.full_env(), capture_output=True, check=True).stdout
    assert b"hello from a private repository" in saved  # the private package is in the image
    assert token not in history and token not in inspect and token.encode() not in saved
