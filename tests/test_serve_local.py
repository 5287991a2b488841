"""mcp_serve.py, the template-owned wiring, for every generation at its lowest and newest version,
called by the mcp 1.x client (protocol 2025-11-25, what Claude Code speaks) and the mcp 2.x client.

Runs on this machine without Docker, each SDK version in a virtual environment of its own
(tests/sdk_envs.py); the end-to-end suite runs the same in containers.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import httpx
import pytest
from answer_sets import ENDPOINTS, TRANSPORTS
from conftest import render
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_probe import list_and_call, probe_with_mcp2_client
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import serving

from extensions.generations import GENERATIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS = sdk_versions()
NEWEST = {version.sdk: version for version in VERSIONS}  # the last listed of each generation is its newest


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """One new project (the example server) per generation; rendering is the slow part."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("served"), config_file=None)
    return {sdk: render(copie, sdk=sdk, use_nginx=False) for sdk in GENERATIONS}


def expected_protocols(version) -> set[str]:
    """What the mcp 2.x client settles on: 2026-07-28 where the server speaks it, else the
    newest handshake revision the server knows (mcp 1.23 knows 2025-06-18)."""
    if version.requirement.startswith(("mcp==2", "fastmcp==4")):
        return {"2026-07-28"}
    return {"2025-06-18", "2025-11-25"}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("version", VERSIONS, ids=[v.id for v in VERSIONS])
def test_example_server_answers_both_clients(projects, version, transport):
    with serving(projects[version.sdk], python=sdk_python(version), MCP_SERVE_TRANSPORT=transport) as base:
        url = base + ENDPOINTS[transport]
        assert list_and_call(url, transport) == (["add"], "5")
        report = probe_with_mcp2_client(url, transport)
    assert (report["tools"], report["text"], report["is_error"]) == (["add"], "5", False)
    if transport == "streamable-http":
        assert report["protocol_version"] in expected_protocols(version)


@pytest.mark.parametrize("sdk", GENERATIONS)
def test_streamable_http_is_stateless_and_never_redirects(projects, sdk):
    with serving(projects[sdk], python=sdk_python(NEWEST[sdk])) as base:
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


def sse_message_endpoint(base: str, headers: dict[str, str]) -> str:
    with httpx.stream("GET", base + "/sse", headers=headers, timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: endpoint"
        return next(lines).removeprefix("data: ")


@pytest.mark.parametrize("sdk", GENERATIONS)
def test_sse_endpoint_event_carries_the_proxy_prefix(projects, sdk):
    # This client is 127.0.0.1, the proxy FORWARDED_ALLOW_IPS trusts by default.
    with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), MCP_SERVE_TRANSPORT="sse") as base:
        for prefix, expected in (("/weather", "/weather/messages/?session_id="), (None, "/messages/?session_id=")):
            headers = {"X-Forwarded-Prefix": prefix} if prefix else {}
            assert sse_message_endpoint(base, headers).startswith(expected)


@pytest.mark.parametrize("trusted", ["10.0.0.0/8", "192.0.2.7", "::1"])
@pytest.mark.parametrize("sdk", ["mcp2-mcpserver", "fastmcp", "mcp1-fastmcp"])
def test_a_prefix_from_anyone_but_a_trusted_proxy_is_ignored(projects, sdk, trusted):
    """A client that is not the proxy cannot send another client's messages to a path of its choice."""
    env = {"MCP_SERVE_TRANSPORT": "sse", "FORWARDED_ALLOW_IPS": trusted}
    with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), **env) as base:
        forged = {"X-Forwarded-Prefix": "/elsewhere", "X-Forwarded-For": "203.0.113.9"}
        assert sse_message_endpoint(base, forged).startswith("/messages/?session_id=")
        assert list_and_call(base + "/sse", "sse", headers=forged) == (["add"], "5")
    # Nor choose the address the server logs for it.
    assert "203.0.113.9" not in (projects[sdk] / "serve.log").read_text()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("sdk", GENERATIONS)
def test_host_check_follows_the_allow_list(projects, sdk, transport):
    env = {"MCP_ALLOWED_HOSTS": "mcp.example.com,mcp.example.com:*", "MCP_SERVE_TRANSPORT": transport}
    with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), **env) as base:
        url = base + ENDPOINTS[transport]
        if transport == "sse":
            with httpx.stream("GET", url, timeout=10) as refused:
                assert refused.status_code == 421
            with httpx.stream("GET", url, headers={"Host": "mcp.example.com"}, timeout=10) as allowed:
                assert allowed.status_code == 200
        else:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
            assert httpx.post(url, json=body, headers=accept).status_code == 421
            allowed = httpx.post(url, json=body, headers={**accept, "Host": "mcp.example.com"})
            assert allowed.status_code == 200
            bad_origin = {**accept, "Host": "mcp.example.com", "Origin": "https://evil.example"}
            assert httpx.post(url, json=body, headers=bad_origin).status_code == 403
        # The health check answers before any Host check: Docker probes by the container's name.
        assert httpx.get(base + "/healthz").status_code == 200


@pytest.mark.parametrize("sdk", GENERATIONS)
def test_no_allow_list_still_refuses_a_rebound_name(projects, sdk):
    """DNS rebinding: a page on rebind.attacker.example whose name now points at this machine calls the
    server without credentials (auth=none, DEPLOYMENT.md's local run). With no MCP_ALLOWED_HOSTS the
    server accepts loopback names only, as the SDK does for a loopback server: the page gets nothing."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 2, "b": 3}}}
    accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), MCP_AUTH="none") as base:
        url = base + ENDPOINTS["streamable-http"]
        port = base.rsplit(":", 1)[1]
        rebound = {
            **accept,
            "Host": f"rebind.attacker.example:{port}",
            "Origin": f"http://rebind.attacker.example:{port}",
        }
        assert httpx.post(url, json=body, headers=rebound).status_code == 421
        page = {**accept, "Origin": f"http://rebind.attacker.example:{port}"}  # the Host as the browser resolved it
        assert httpx.post(url, json=body, headers=page).status_code == 403
        assert list_and_call(url, "streamable-http") == (["add"], "5")  # localhost itself is served


def test_unknown_transport_exits_with_the_valid_ones(projects):
    result = subprocess.run(
        [str(sdk_python(NEWEST["mcp2-mcpserver"])), "mcp_serve.py"],
        cwd=projects["mcp2-mcpserver"],
        env={"MCP_SERVE_TRANSPORT": "websocket"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "Unknown MCP_SERVE_TRANSPORT 'websocket': expected one of streamable-http, sse, stdio" in result.stderr


@pytest.mark.parametrize("sdk", GENERATIONS)
def test_stdio_transport_serves_the_same_object(projects, sdk):
    async def call():
        params = StdioServerParameters(
            command=str(sdk_python(NEWEST[sdk])),
            args=["mcp_serve.py"],
            cwd=str(projects[sdk]),
            env={"MCP_SERVE_TRANSPORT": "stdio"},
        )
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool("add", {"a": 40, "b": 2})

    result = anyio.run(call)
    assert result.content[0].text == "42"


# A version the answer was not made for: the other mcp major, or (fastmcp) no fastmcp at all.
WRONG_VERSION = {
    "mcp1-fastmcp": "mcp2-mcpserver",
    "mcp1-lowlevel": "mcp2-lowlevel",
    "mcp2-mcpserver": "mcp1-fastmcp",
    "mcp2-lowlevel": "mcp1-lowlevel",
    "fastmcp": "mcp2-mcpserver",
}


@pytest.mark.parametrize("sdk", GENERATIONS)
def test_sdk_check_names_the_answer_to_change(projects, sdk):
    """The image's version check, in the environment it was made for and in a wrong one."""
    generation = GENERATIONS[sdk]
    check = ["sdk_check.py"]
    ok = subprocess.run([str(sdk_python(NEWEST[sdk])), *check], cwd=projects[sdk], capture_output=True, text=True)
    assert ok.returncode == 0 and f"matches sdk={sdk}" in ok.stdout, ok.stderr
    wrong = subprocess.run(
        [str(sdk_python(NEWEST[WRONG_VERSION[sdk]])), *check], cwd=projects[sdk], capture_output=True, text=True
    )
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1, wrong.stderr  # one line, no traceback
    assert f"sdk={sdk} needs {generation.supported}" in wrong.stderr
    if generation.package == "mcp":
        assert f"--data sdk={WRONG_VERSION[sdk]}" in wrong.stderr
