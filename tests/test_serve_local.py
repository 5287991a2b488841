"""mcp_serve.py, the template-owned transport wiring, against the mcp SDK's own client.

Runs on this machine without Docker (the end-to-end suite runs the same in containers).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import render
from fixture_repos import ANSWERS, apply_template, checkout_fixture
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_probe import list_and_call, progress_timing
from pytest_copie.plugin import Copie
from served_project import serving

REPO_ROOT = Path(__file__).resolve().parent.parent

SERVERS = [(sdk, transport) for sdk in ("mcp1-fastmcp", "mcp1-lowlevel") for transport in ("streamable-http", "sse")]
ENDPOINT = {"streamable-http": "/mcp", "sse": "/sse"}


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """One rendered example project per SDK x transport (rendering is the slow part)."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("served"), config_file=None)
    return {
        (sdk, transport): render(copie, sdk=sdk, transport=transport, use_nginx=False) for sdk, transport in SERVERS
    }


@pytest.mark.parametrize(("sdk", "transport"), SERVERS)
def test_example_server_answers_a_real_client(projects, sdk, transport):
    with serving(projects[sdk, transport]) as base:
        tools, text = list_and_call(base + ENDPOINT[transport], transport)
    assert tools == ["add"] and text == "5"


@pytest.mark.parametrize("sdk", ["mcp1-fastmcp", "mcp1-lowlevel"])
def test_streamable_http_is_stateless_and_never_redirects(projects, sdk):
    with serving(projects[sdk, "streamable-http"]) as base:
        for path in ("/mcp", "/mcp/"):
            tools, _ = list_and_call(base + path, "streamable-http")
            assert tools == ["add"]
        # A tools/list with no initialize and no session id only works when the server is stateless.
        response = httpx.post(
            base + "/mcp/",
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"},
        )
        assert response.status_code == 200, response.text
        assert "mcp-session-id" not in response.headers
        assert '"add"' in response.text


@pytest.mark.parametrize("sdk", ["mcp1-fastmcp", "mcp1-lowlevel"])
def test_sse_endpoint_event_carries_the_proxy_prefix(projects, sdk):
    with serving(projects[sdk, "sse"]) as base:
        for prefix, expected in (("/weather", "/weather/messages/?session_id="), (None, "/messages/?session_id=")):
            headers = {"X-Forwarded-Prefix": prefix} if prefix else {}
            with httpx.stream("GET", base + "/sse", headers=headers, timeout=10) as response:
                lines = response.iter_lines()
                assert next(lines) == "event: endpoint"
                assert next(lines).startswith("data: " + expected)


@pytest.mark.parametrize(("sdk", "transport"), SERVERS)
def test_host_check_follows_the_allow_list(projects, sdk, transport):
    env = {"MCP_ALLOWED_HOSTS": "mcp.example.com,mcp.example.com:*"}
    with serving(projects[sdk, transport], **env) as base:
        url = base + ENDPOINT[transport]
        if transport == "sse":
            with httpx.stream("GET", url, timeout=10) as refused:
                assert refused.status_code == 421
            with httpx.stream("GET", url, headers={"Host": "mcp.example.com"}, timeout=10) as allowed:
                assert allowed.status_code == 200
        else:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            accept = {"Accept": "application/json, text/event-stream"}
            assert httpx.post(url, json=body, headers=accept).status_code == 421
            allowed = httpx.post(url, json=body, headers={**accept, "Host": "mcp.example.com"})
            assert allowed.status_code == 200
            bad_origin = {**accept, "Host": "mcp.example.com", "Origin": "https://evil.example"}
            assert httpx.post(url, json=body, headers=bad_origin).status_code == 403


def test_unknown_transport_exits_with_the_valid_ones(projects):
    project = projects["mcp1-fastmcp", "streamable-http"]
    result = subprocess.run(
        [sys.executable, "mcp_serve.py"],
        cwd=project,
        env={"MCP_TRANSPORT": "websocket"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "Unknown MCP_TRANSPORT 'websocket': expected one of streamable-http, sse, stdio" in result.stderr


@pytest.mark.parametrize("sdk", ["mcp1-fastmcp", "mcp1-lowlevel"])
def test_stdio_transport_serves_the_same_object(projects, sdk):
    project = projects[sdk, "streamable-http"]

    async def call():
        params = StdioServerParameters(
            command=sys.executable, args=["mcp_serve.py"], cwd=str(project), env={"MCP_TRANSPORT": "stdio"}
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool("add", {"a": 40, "b": 2})

    result = anyio.run(call)
    assert result.content[0].text == "42"


@pytest.mark.parametrize("fixture", ["fastmcp_repo", "lowlevel_repo"])
@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_existing_server_streams_progress_before_its_result(tmp_path, fixture, transport):
    repo = checkout_fixture(fixture, tmp_path / fixture)
    apply_template(repo, **ANSWERS[fixture], transport=transport, use_nginx=False)
    with serving(repo, WEATHER_API_KEY="k-123") as base:
        url = base + ENDPOINT[transport]
        tools, text = list_and_call(url, transport, "get_forecast", {"city": "Oslo"})
        assert {"add", "get_forecast", "get_setting", "slow_progress"} <= set(tools)
        assert text == "Sunny in Oslo"
        timing = progress_timing(url, transport, steps=3, wait_seconds=2.0)
    assert timing["notifications"] == 3 and timing["text"] == "done after 3 steps"
    assert timing["first_progress_after"] < timing["result_after"] - 1.5
