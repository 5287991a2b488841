"""A server that configures its own auth keeps it behind mcp_serve.py: the wiring uses each SDK's
own app builder, so the server's token check runs for every MCP request (and not for /healthz)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import render
from mcp_probe import list_and_call
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import serving

REPO_ROOT = Path(__file__).resolve().parent.parent
NEWEST = {version.sdk: version for version in sdk_versions()}
TOKEN = "server-side-token-8c1f"

VERIFIER = f'''
class Verifier(TokenVerifier):
    async def verify_token(self, token):
        if token == "{TOKEN}":
            return AccessToken(token=token, client_id="tests", scopes=["tools"])
        return None


AUTH = AuthSettings(
    issuer_url="https://auth.example.com",
    resource_server_url="http://localhost:8000/mcp",
    required_scopes=["tools"],
)
'''
SERVERS = {
    "mcp2-mcpserver": (
        "from mcp.server.auth.provider import AccessToken, TokenVerifier\n"
        "from mcp.server.auth.settings import AuthSettings\n"
        "from mcp.server.mcpserver import MCPServer\n"
        + VERIFIER
        + "mcp = MCPServer('guarded', token_verifier=Verifier(), auth=AUTH)\n"
    ),
    "mcp1-fastmcp": (
        "from mcp.server.auth.provider import AccessToken, TokenVerifier\n"
        "from mcp.server.auth.settings import AuthSettings\n"
        "from mcp.server.fastmcp import FastMCP\n"
        + VERIFIER
        + "mcp = FastMCP('guarded', token_verifier=Verifier(), auth=AUTH)\n"
    ),
    "fastmcp": (
        "from fastmcp import FastMCP\n"
        "from fastmcp.server.auth.providers.jwt import StaticTokenVerifier\n\n"
        f"verifier = StaticTokenVerifier(tokens={{'{TOKEN}': {{'client_id': 'tests', 'scopes': ['tools']}}}})\n"
        "mcp = FastMCP('guarded', auth=verifier)\n"
    ),
}
TOOL = "\n\n@mcp.tool()\ndef add(a: int, b: int) -> int:\n    return a + b\n"


@pytest.mark.parametrize("sdk", SERVERS)
def test_the_servers_own_token_check_still_applies(tmp_path_factory, sdk):
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("auth"), config_file=None)
    project = render(copie, sdk=sdk, use_nginx=False)
    (project / "server.py").write_text(SERVERS[sdk] + TOOL)
    with serving(project, python=sdk_python(NEWEST[sdk])) as base:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        accept = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
        refused = httpx.post(base + "/mcp", json=body, headers=accept)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = httpx.post(base + "/mcp", json=body, headers={**accept, "Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        tools, text = list_and_call(base + "/mcp", "streamable-http", headers={"Authorization": f"Bearer {TOKEN}"})
        assert tools == ["add"] and text == "5"
        assert httpx.get(base + "/healthz").status_code == 200
