"""Applying the template to existing server repositories: defaults read from the code, every file of
the user's kept, and the server served by the wiring as its owner wrote it.

The repositories (tests/fixtures) are written in the shapes of real ones: module-level objects,
factories, click and typer commands, a package run as `python -m`, src layouts with relative
imports, pyproject-only dependencies, uv.lock and poetry.lock. Each runs here in a virtual
environment with its SDK (the end-to-end suite builds and runs them in containers).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import anyio
import copier
import httpx
import pytest
import yaml
from answer_sets import ENDPOINTS
from copier.errors import UserMessageError
from fixture_repos import (
    CONTRACT_TOOLS,
    CUSTOM_ROUTES,
    DATA,
    DETECTED,
    SDK_REQUIREMENT,
    apply_template,
    checkout_fixture,
    commit_all,
    gitignore_after,
    snapshot,
)
from mcp_probe import MCP_HEADERS, list_and_call, mcp_session, probe_with_mcp2_client, progress_timing
from sdk_envs import EXTRAS, environment
from served_project import serving

from extensions.gitignore import add_lines

REPO_ROOT = Path(__file__).resolve().parent.parent
ANSWERS_FILE = ".copier-answers.mcp-docker.yml"


@pytest.mark.parametrize("fixture", DETECTED)
def test_copy_with_defaults_reads_the_code_and_keeps_every_file(tmp_path, fixture):
    repo = checkout_fixture(fixture, tmp_path / fixture)
    before = snapshot(repo)
    apply_template(repo, **DATA.get(fixture, {}))
    recorded = yaml.safe_load((repo / ANSWERS_FILE).read_text())
    assert {key: recorded[key] for key in DETECTED[fixture]} == DETECTED[fixture]
    after = snapshot(repo)
    for name, content in before.items():
        expected = gitignore_after(content) if name == ".gitignore" else content
        assert after[name] == expected, f"{name} changed"
    # No second list of dependencies next to the project's own, and no example server.
    assert ("requirements.txt" in after) == ("requirements.txt" in before)
    template_python = {
        "mcp_serve.py",
        "mcp_auth.py",
        "mcp_sessions.py",
        "mcp_observe.py",
        "check_deployment.py",
        "healthcheck.py",
        "sdk_check.py",
    }
    assert not [name for name in after if name not in before and name.endswith(".py") and name not in template_python]


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
@pytest.mark.parametrize("fixture", DETECTED)
def test_the_wiring_serves_each_repository_as_written(tmp_path, fixture, transport):
    repo = checkout_fixture(fixture, tmp_path / fixture)
    apply_template(repo, transport=transport, use_nginx=False, **DATA.get(fixture, {}))
    python = environment(SDK_REQUIREMENT[fixture], *EXTRAS)
    with serving(repo, python=python, MCP_SERVE_TRANSPORT=transport, WEATHER_API_KEY="k-123") as base:
        url = base + ENDPOINTS[transport]
        tools, text = list_and_call(url, transport, "get_forecast", {"city": "Oslo"})
        assert CONTRACT_TOOLS <= set(tools) and text == "Sunny in Oslo"
        assert list_and_call(url, transport, "get_setting", {"name": "WEATHER_API_KEY"})[1] == "k-123"
        timing = progress_timing(url, transport, steps=3, wait_seconds=1.5)
        report = probe_with_mcp2_client(url, transport, tool="lifespan_entries", arguments={})
        # The lifespan is entered once for the process, after all these requests (SSE: once per connection).
        entries = list_and_call(url, transport, "lifespan_entries", {})[1]
        if fixture in CUSTOM_ROUTES:
            assert httpx.get(base + "/status").text == "ok"
    assert timing["notifications"] == 3 and timing["text"] == "done after 3 steps"
    assert timing["first_progress_after"] < timing["result_after"] - 1.0
    assert CONTRACT_TOOLS <= set(report["tools"])
    if transport == "streamable-http":
        assert entries == "1" and report["text"] == "1"


# One repository per generation, as the end-to-end suite deploys them.
GENERATION_FIXTURES = ["fastmcp_repo", "lowlevel_repo", "mcp2_factory", "mcp2_lowlevel", "fastmcp4_app"]


@pytest.mark.parametrize("fixture", GENERATION_FIXTURES)
def test_a_stopping_server_finishes_the_calls_in_progress(tmp_path, fixture):
    """SIGTERM (docker stop, a rolling update) mid-call: the answer still arrives, progress and all;
    new connections are refused at once (the proxy then tries another replica); then it exits.

    The call is one raw tools/call streamed over HTTP (the server is stateless): the SDK's client
    also opens other requests of its own, which a stopping server rightly refuses."""
    repo = checkout_fixture(fixture, tmp_path / fixture)
    apply_template(repo, use_nginx=False, **DATA.get(fixture, {}))
    python = environment(SDK_REQUIREMENT[fixture], *EXTRAS)
    call = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {
            "name": "slow_progress",
            "arguments": {"steps": 3, "wait_seconds": 1.0},
            "_meta": {"progressToken": 1},
        },
    }
    events = []
    with serving(repo, python=python, WEATHER_API_KEY="k-123") as base:
        url = base + ENDPOINTS["streamable-http"]
        with httpx.stream("POST", url, json=call, headers=MCP_HEADERS, timeout=30) as response:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    events.append(json.loads(line.removeprefix("data: ")))
                    if len(events) == 1:  # the first step is done: the call is in progress
                        base.process.terminate()
                        time.sleep(0.5)
                        with pytest.raises(httpx.ConnectError):
                            httpx.get(base + "/healthz", timeout=2)
        base.process.wait(timeout=15)  # it stops once the call is answered
    progress = [event for event in events if event.get("method") == "notifications/progress"]
    (result,) = [event for event in events if event.get("id") == 7]
    assert len(progress) == 3
    assert result["result"]["content"][0]["text"] == "done after 3 steps", result


def test_server_args_reach_a_command_line_entry_point(tmp_path):
    """time_shaped's click main() takes --units; MCP_SERVER_ARGS is its command line."""
    repo = checkout_fixture("time_shaped", tmp_path / "time_shaped")
    apply_template(repo, use_nginx=False)
    python = environment(SDK_REQUIREMENT["time_shaped"], *EXTRAS)

    async def forecast_description(url: str) -> str:
        async with mcp_session(url, "streamable-http") as session:
            tools = await session.list_tools()
        return next(tool.description for tool in tools.tools if tool.name == "get_forecast")

    with serving(repo, python=python, MCP_SERVER_ARGS="--units imperial") as base:
        assert "(imperial units)" in anyio.run(forecast_description, base + "/mcp")


def test_gitignore_lines_already_present_are_not_added(tmp_path):
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text("/VERSION\n# secrets\n.env\n")
    assert add_lines(gitignore, ["VERSION", ".env"]) == []
    assert gitignore.read_text() == "/VERSION\n# secrets\n.env\n"


def without_commit(files: dict[str, bytes]) -> dict[str, bytes]:
    answers = re.sub(rb"^_commit: .*\n", b"", files[ANSWERS_FILE], flags=re.M)
    return {**files, ANSWERS_FILE: answers}


@pytest.mark.parametrize(
    "gitignore", ["__pycache__/\n.venv\n", "__pycache__/\n.venv", ""], ids=["newline", "no-newline", "absent"]
)
def test_applied_twice_nothing_is_lost_or_doubled(tmp_path, gitignore):
    repo = checkout_fixture("fastmcp_repo", tmp_path / "repo")
    (repo / ".gitignore").unlink()
    if gitignore:
        (repo / ".gitignore").write_text(gitignore)
    before = snapshot(repo)
    apply_template(repo)
    written = snapshot(repo)
    # A second copy is refused before it writes anything; the documented way to apply it again is recopy.
    with pytest.raises(UserMessageError, match="a second copy would stop at the first file that differs"):
        apply_template(repo)
    assert snapshot(repo) == written
    copier.run_recopy(str(repo), answers_file=ANSWERS_FILE, vcs_ref="HEAD", defaults=True, unsafe=True, overwrite=True)
    after = snapshot(repo)
    # Only the template's commit may differ: a dirty checkout is committed anew for each copy.
    assert without_commit(after) == without_commit(written)
    for name, content in before.items():
        if name != ".gitignore":
            assert after[name] == content, f"{name} was changed"
    ending = "\n" if gitignore and not gitignore.endswith("\n") else ""
    expected = gitignore + ending + "VERSION\n.env\nmcp-tokens/\n"
    assert (repo / ".gitignore").read_text() == expected


def test_example_server_only_for_a_new_project(tmp_path):
    apply_template(tmp_path / "new", server="src/weather_server.py:server", sdk="mcp1-fastmcp")
    example = (tmp_path / "new/src/weather_server.py").read_text()
    assert "server = FastMCP(" in example
    assert (tmp_path / "new/requirements.txt").read_text().splitlines()[-1] == "mcp>=1.23,<2"


@pytest.mark.parametrize("renovate_config", [".github/renovate.json", "renovate.json5", ".renovaterc", "package.json"])
def test_a_renovate_configuration_of_the_repository_is_the_one_renovate_keeps_reading(tmp_path, renovate_config):
    """Renovate reads the first configuration it finds; renovate.json comes first, so the template
    writes none next to one of the repository's own, and DEPLOYMENT.md says what to add to it."""
    repo = checkout_fixture("fastmcp_repo", tmp_path / "repo")
    (repo / renovate_config).parent.mkdir(parents=True, exist_ok=True)
    config = '{"renovate": {"extends": ["config:recommended"]}}\n' if renovate_config == "package.json" else "{}\n"
    (repo / renovate_config).write_text(config)
    apply_template(repo, **DATA.get("fastmcp_repo", {}), image="ghcr.io/acme/weather-mcp")
    commit_all(repo, "the template applied")
    assert (repo / ".github/workflows/mcp-image.yml").is_file()
    assert not (repo / "renovate.json").exists()
    assert (repo / renovate_config).read_text() == config
    deployment = (repo / "DEPLOYMENT.md").read_text()
    assert f"Your repository already configures Renovate in `{renovate_config}`" in deployment
    assert "| `renovate.json` |" not in deployment
    # An update keeps it so (no renovate.json appears, DEPLOYMENT.md says the same).
    copier.run_update(
        str(repo), answers_file=ANSWERS_FILE, defaults=True, unsafe=True, overwrite=True, vcs_ref="HEAD", quiet=True
    )
    assert not (repo / "renovate.json").exists()


def test_a_new_package_gets_its_init_files(tmp_path):
    apply_template(tmp_path / "new", server="weather.tools.server:mcp")
    assert (tmp_path / "new/weather/__init__.py").is_file() and (tmp_path / "new/weather/tools/__init__.py").is_file()
    assert "mcp = MCPServer(" in (tmp_path / "new/weather/tools/server.py").read_text()
    assert yaml.safe_load((tmp_path / "new" / ANSWERS_FILE).read_text())["source_paths"] == ["weather"]


@pytest.mark.parametrize(
    "gitignore",
    [b"__pycache__/\r\n.venv\r\n", "# caché\n*.pyc\n".encode("latin-1"), b"\xef\xbb\xbf# BOM\n.venv"],
    ids=["crlf", "latin-1", "bom-no-newline"],
)
def test_gitignore_keeps_its_line_endings_and_encoding(tmp_path, gitignore):
    path = tmp_path / ".gitignore"
    path.write_bytes(gitignore)
    assert add_lines(path, ["VERSION", ".env"]) == ["VERSION", ".env"]
    newline = b"\r\n" if b"\r\n" in gitignore else b"\n"
    separator = b"" if gitignore.endswith(b"\n") else newline
    assert path.read_bytes() == gitignore + separator + b"VERSION" + newline + b".env" + newline
    assert add_lines(path, ["VERSION", ".env"]) == []
