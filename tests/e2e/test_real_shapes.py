"""Repositories shaped like published MCP servers (tests/real_shapes.py), deployed as they are.

As a new user does it: the template copied with only the site's answers (image, ports, host,
certificates), everything about the code read from it; a token made as DEPLOYMENT.md says; the
image built on the real engine, run by the compose file, and its tools called through nginx with
TLS. Then the same image under the Kubernetes manifests' security context (read-only root, uid
10001, no capabilities). What the template changed or chose is said in the build log, which the
tests read; a stricter answer (lock_policy=exact) keeps the build failing, naming the command.

The fixtures are split in two classes so that the two xdist workers (--dist loadscope) share them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from fixture_repos import apply_template, checkout_fixture, snapshot
from mcp_probe import list_and_call
from plumbum import ProcessExecutionError
from real_shapes import REAL_SHAPES

from .deployment import Deployment, nginx_answers, port_answers, unique_image

# What each build must say it changed, where it changed something.
BUILD_SAYS = {
    "old_lock": "uv.lock pins mcp 1.9.4, below mcp>=1.23.0,<2: upgraded to",
    "stale_lock": "uv.lock is older than pyproject.toml: re-resolved for this image with `uv lock`",
}
# Where the user must decide, the build stops with one line naming the command. poetry.lock is not
# re-resolved in the image: Poetry's resolver needs PyPI's JSON API, which the test machines' proxy
# lacks, so a refresh could not be shown working here.
BUILD_STOPS = {
    "stale_poetry": "pyproject.toml changed significantly since poetry.lock was last generated. Run `poetry lock`"
}
# The tool each fixture answers besides add and get_forecast, and what it must answer.
OWN_TOOL = {
    "factory_args": ("db_path", {}, "notes.db"),
    "gitpython": ("git_version", {}, "git version"),
    "log_at_import": ("log_lines", {}, ""),
}
# Servers that cannot run with a read-only root filesystem, and why (DEPLOYMENT.md says so).
NEEDS_WRITABLE_APP = {"log_at_import": "opens server.log in its working directory at import"}

FIXTURES = sorted(REAL_SHAPES)
FIRST_HALF, SECOND_HALF = FIXTURES[::2], FIXTURES[1::2]


def deploy_shape(fixture: str, workdir: Path, engine, tls, **answers) -> tuple[Deployment, Path]:
    """The fixture as its owner has it, in git, with the template copied where its user would."""
    checkout = checkout_fixture(fixture, workdir / "repo")
    repo = checkout / REAL_SHAPES[fixture]["subfolder"]
    before = snapshot(checkout)
    given = {
        "image": unique_image(fixture.replace("_", "-")),
        **port_answers(True),
        "use_nginx": True,
        **nginx_answers(tls),
        **answers,
    }
    apply_template(repo, **given)
    recorded = yaml.safe_load((repo / ".copier-answers.mcp-docker.yml").read_text())
    return Deployment(None, repo, {**recorded, **given}, engine, before), checkout


def build_log(deployment: Deployment, build_flags: list[str], fresh: bool = False) -> str:
    """`docker build` as the user runs it, with BuildKit's plain progress: what every step printed
    (fresh: no step from the build cache, which prints nothing; an earlier run may have left one)."""
    dockerfile = deployment.repo / deployment.answers.get("dockerfile", "Dockerfile")
    arguments = ["build", "--progress=plain", *(["--no-cache"] if fresh else []), *build_flags]
    arguments += ["--file", str(dockerfile), "--tag", deployment.image]
    _, out, err = deployment.engine.docker.run([*arguments, str(deployment.repo)])
    return out + err


def run_as_kubernetes_does(deployment: Deployment) -> str:
    """The image under k8s/deployment.yaml's security context: read-only root with /tmp writable,
    uid 10001, every capability dropped, no privilege escalation; the tokens folder mounted."""
    name = f"{deployment.service}-k8s"
    deployment.engine.docker(
        "run", "-d", "--name", name, "--read-only", "--tmpfs", "/tmp", "--user", "10001:10001",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "-v", f"{deployment.repo / 'mcp-tokens'}:/app/mcp-tokens:ro", deployment.image,
    )  # fmt: skip
    return name


def wait_state(deployment: Deployment, container: str, timeout: float = 60) -> str:
    """healthy, or how the container ended: 'exited' (with its logs to read)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = json.loads(deployment.engine.docker("inspect", "--format", "{{json .State}}", container))
        if not state["Running"]:
            return "exited"
        if (state.get("Health") or {}).get("Status") == "healthy":
            return "healthy"
        time.sleep(0.5)
    return "timeout"


def check_shape(fixture, tmp_path, docker_engine, docker_build_flags, tls_certs):
    shape = REAL_SHAPES[fixture]
    deployment, checkout = deploy_shape(fixture, tmp_path, docker_engine, tls_certs)
    try:
        # Nothing about the code was answered: what was read serves every tool.
        assert deployment.answers["server"] == shape["serves"]
        if fixture in BUILD_STOPS:
            with pytest.raises(ProcessExecutionError) as failed:
                build_log(deployment, docker_build_flags)
            assert BUILD_STOPS[fixture] in failed.value.stderr
            return
        log = build_log(deployment, docker_build_flags, fresh=fixture in BUILD_SAYS)
        if fixture in BUILD_SAYS:
            assert BUILD_SAYS[fixture] in log, log[-3000:]
        deployment.compose_up()
        deployment.wait_health("healthy")
        assert f"{len(shape['tools'])} tools: " in deployment.logs() or len(shape["tools"]) > 8
        deployment.start_nginx(tmp_path / "nginx")
        auth = {"headers": deployment.auth_headers, "verify": tls_certs.ssl_context()}
        tools, text = list_and_call(deployment.proxied_url, "streamable-http", **auth)
        assert set(tools) == shape["tools"] and text == "5"
        assert list_and_call(deployment.proxied_url, "streamable-http", "get_forecast", {"city": "Oslo"}, **auth)[
            1
        ] == ("Sunny in Oslo")
        if fixture in OWN_TOOL:
            tool, arguments, answer = OWN_TOOL[fixture]
            text = list_and_call(deployment.proxied_url, "streamable-http", tool, arguments, **auth)[1]
            assert text.startswith(answer) if answer else text.isdigit(), text
        # The user's files are as they were, but .gitignore (the template appends to it).
        after = snapshot(checkout)
        changed = [name for name, data in deployment.user_files_before.items() if after.get(name) != data]
        assert changed in ([], [str(Path(shape["subfolder"]) / ".gitignore").removeprefix("./")]), changed

        container = run_as_kubernetes_does(deployment)
        try:
            state = wait_state(deployment, container)
            if fixture in NEEDS_WRITABLE_APP:
                # DEPLOYMENT.md's Kubernetes section says what such a server needs (test_render_matrix).
                assert state == "exited" and "Read-only file system" in deployment.logs(container)
            else:
                assert state == "healthy", deployment.logs(container)
        finally:
            docker_engine.docker.run(["rm", "-f", container], retcode=None)
    finally:
        deployment.stop()


class TestFirstHalf:
    @pytest.mark.parametrize("fixture", FIRST_HALF)
    def test_deploys_as_it_is(self, fixture, tmp_path, docker_engine, docker_build_flags, tls_certs):
        check_shape(fixture, tmp_path, docker_engine, docker_build_flags, tls_certs)


class TestSecondHalf:
    @pytest.mark.parametrize("fixture", SECOND_HALF)
    def test_deploys_as_it_is(self, fixture, tmp_path, docker_engine, docker_build_flags, tls_certs):
        check_shape(fixture, tmp_path, docker_engine, docker_build_flags, tls_certs)

    @pytest.mark.parametrize(
        ("fixture", "command"),
        [("old_lock", "uv lock --upgrade-package 'mcp>=1.23.0,<2'"), ("stale_lock", "uv lock")],
    )
    def test_an_exact_lock_policy_fails_the_build_naming_the_command(
        self, fixture, command, tmp_path, docker_engine, docker_build_flags, tls_certs
    ):
        deployment, _ = deploy_shape(fixture, tmp_path, docker_engine, tls_certs, lock_policy="exact")
        with pytest.raises(ProcessExecutionError) as failed:
            build_log(deployment, docker_build_flags)
        assert command in failed.value.stdout + failed.value.stderr
