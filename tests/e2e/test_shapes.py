"""Real repository shapes, deployed with the answers read from their code: built, run by the compose
file and called through nginx with TLS and a token, the user's files unchanged but .gitignore.

test_deployments.py covers one repository per generation; these are the other shapes: a click
command running a server it builds (uv.lock, src layout), a typer app with poetry.lock that needs
the git binary, a standalone-fastmcp 3 typer script, and a package run as `python -m`. Then what
must fail the build, with a message that says what to do: a stale lock file, a dependency file
that resolves to another major version than the answered one.
"""

from __future__ import annotations

import anyio
import pytest
from fixture_repos import CONTRACT_TOOLS, apply_template, checkout_fixture
from mcp_probe import list_and_call, mcp_session
from plumbum import ProcessExecutionError

from .deployment import Combination, deploy, unique_image
from .ports import free_port

SHAPES = ["time_shaped", "git_shaped", "fastmcp3_typer", "mcp2_module_main"]


@pytest.mark.parametrize("fixture", SHAPES)
def test_shape_is_served_through_nginx(fixture, tmp_path, docker_engine, docker_build_flags, tls_certs):
    deployment = deploy(Combination(fixture, "streamable-http", True), tmp_path, docker_engine, tls_certs)
    try:
        deployment.build(docker_build_flags)
        # time_shaped's click command takes --units: its command line, in .env as a user sets it.
        deployment.compose_up(**({"MCP_SERVER_ARGS": "--units imperial"} if fixture == "time_shaped" else {}))
        deployment.wait_health("healthy")
        deployment.start_nginx(tmp_path / "nginx")
        auth = {"headers": deployment.auth_headers, "verify": tls_certs.ssl_context()}
        tools, text = list_and_call(deployment.proxied_url, "streamable-http", "get_forecast", {"city": "Oslo"}, **auth)
        assert CONTRACT_TOOLS <= set(tools) and text == "Sunny in Oslo"
        assert list_and_call(deployment.proxied_url, "streamable-http", "lifespan_entries", {}, **auth)[1] == "1"
        if fixture == "git_shaped":
            # The system package the answers asked for is in the runtime image.
            version = list_and_call(deployment.proxied_url, "streamable-http", "git_version", {}, **auth)[1]
            assert version.startswith("git version")
        if fixture == "time_shaped":

            async def description() -> str:
                async with mcp_session(deployment.proxied_url, "streamable-http", **auth) as session:
                    listed = await session.list_tools()
                return next(tool.description for tool in listed.tools if tool.name == "get_forecast")

            assert "(imperial units)" in anyio.run(description)
        for name, before in deployment.user_files_before.items():
            if name != ".gitignore":
                assert (deployment.repo / name).read_bytes() == before, f"{name} changed"
    finally:
        deployment.stop()


def build_error(repo, docker_engine, build_flags, dockerfile: str = "Dockerfile") -> str:
    image = unique_image("failing")
    with pytest.raises(ProcessExecutionError) as failed:
        docker_engine.docker("build", *build_flags, "--file", str(repo / dockerfile), "--tag", image, str(repo))
    return failed.value.stderr


@pytest.mark.parametrize(
    ("fixture", "fix", "answers"),
    [("time_shaped", "uv lock", {"lock_policy": "exact"}), ("git_shaped", "poetry lock", {})],
)
def test_a_stale_lock_file_fails_the_build_saying_how_to_fix_it(
    fixture, fix, answers, tmp_path, docker_engine, docker_build_flags
):
    """poetry.lock, and uv.lock kept exactly as committed (by default the image's copy of a stale
    uv.lock is re-resolved: tests/e2e/test_real_shapes.py)."""
    repo = checkout_fixture(fixture, tmp_path / fixture)
    apply_template(repo, image=unique_image(fixture), port=free_port(), use_nginx=False, **answers)
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("dependencies = [", 'dependencies = [\n    "rich>=13",', 1))
    assert fix in build_error(repo, docker_engine, docker_build_flags)


def test_a_dependency_file_for_another_major_fails_naming_the_answer(tmp_path, docker_engine, docker_build_flags):
    """A 1.x FastMCP server whose requirements.txt asks for mcp 2: the constraint refuses, and says why."""
    repo = checkout_fixture("fastmcp_repo", tmp_path / "repo")
    apply_template(repo, image=unique_image("major"), port=free_port(), use_nginx=False)
    (repo / "requirements.txt").write_text("mcp>=2\n")
    error = build_error(repo, docker_engine, docker_build_flags)
    assert "cannot be installed within mcp>=1.23.0,<2 (the answer sdk=mcp1-fastmcp)" in error
    assert "--data sdk=" in error


def test_a_lock_resolving_another_major_fails_at_the_version_check(tmp_path, docker_engine, docker_build_flags):
    """uv.lock pins mcp 1.30 but the answer says mcp 2: sdk_check stops the build with one line."""
    repo = checkout_fixture("time_shaped", tmp_path / "repo")
    apply_template(repo, image=unique_image("lock"), port=free_port(), use_nginx=False, sdk="mcp2-lowlevel")
    error = build_error(repo, docker_engine, docker_build_flags)
    assert "sdk_check: mcp 1.30.0 is installed, but sdk=mcp2-lowlevel needs mcp>=2.0.0,<3" in error
    assert "--data sdk=mcp1-lowlevel" in error
