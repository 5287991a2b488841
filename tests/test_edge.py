"""The rendered nginx config at the edge, run by real nginx (Debian's) with TLS in front of a rendered
server on this machine: its access log names each call's MCP method and tool, whether the client
sends the 2026-07-28 Mcp-Method/Mcp-Name headers or not, and it limits requests per client token
(calls_per_second), answering 429 with Retry-After past the limit while other clients go on.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import anyio
import httpx
import pytest
import trustme
from conftest import render
from e2e.nginx import Nginx
from e2e.ports import free_port
from mcp_probe import MCP_HEADERS, TOOLS_CALL, mcp_session
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import add_client, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSION = next(version for version in sdk_versions() if version.sdk == "mcp1-fastmcp")
RATE = 2  # the calls_per_second answer: bursts of 4


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    """(project, nginx, https base URL, CA file, three clients' tokens), the server and nginx running."""
    folder = tmp_path_factory.mktemp("edge")
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    cert.private_key_pem.write_to_path(str(folder / "privkey.pem"))
    cert.cert_chain_pems[0].write_to_path(str(folder / "fullchain.pem"))
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    port, https_port = free_port(), free_port()
    (folder / "render").mkdir()
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=folder / "render", config_file=None)
    project = render(
        copie,
        sdk=VERSION.sdk,
        auth="tokens",
        port=port,
        public_host="localhost",
        https_port=https_port,
        http_port=free_port(),
        calls_per_second=RATE,
        ssl_certificate=str(folder / "fullchain.pem"),
        ssl_certificate_key=str(folder / "privkey.pem"),
    )
    tokens = [add_client(project, name) for name in ("alice-laptop", "build-bot", "carol-desktop")]
    rendered = next((project / "nginx").glob("*.conf")).read_text()
    prefix = re.search(r"location /([^ ]+)/ \{", rendered).group(1)
    nginx = Nginx(folder / "nginx", folder / "server.conf")
    # The server block's own log format, written where this nginx keeps its logs.
    (folder / "server.conf").write_text(rendered.replace("/var/log/nginx/access.log", str(nginx.access_log_path)))
    with (
        serving(project, sdk_python(VERSION), MCP_AUTH="tokens", MCP_SERVE_PORT=str(port)),
        nginx.start(wait_ports=[https_port]),
    ):
        yield project, nginx, f"https://localhost:{https_port}/{prefix}", str(folder / "ca.pem"), tokens


def post(base: str, ca: str, token: str, headers: dict | None = None) -> httpx.Response:
    headers = MCP_HEADERS | {"Authorization": f"Bearer {token}"} | (headers or {})
    return httpx.post(base + "/mcp", json=TOOLS_CALL, headers=headers, verify=ca, timeout=30)


def test_log_names_method_and_tool(edge):
    project, nginx, base, ca, (token, _, _) = edge

    async def call():
        async with mcp_session(
            base + "/mcp", "streamable-http", headers={"Authorization": f"Bearer {token}"}, verify=ca
        ) as session:
            await session.call_tool("add", {"a": 1, "b": 2})

    anyio.run(call)  # the mcp 1.x client sends no Mcp-Method header: the server's answer names it
    # A 2026-07-28 client names the call itself (and the server's answer agrees).
    named = post(base, ca, token, {"Mcp-Method": "tools/call", "Mcp-Name": "add"})
    assert named.status_code == 200
    assert "x-mcp-method" not in named.headers  # for nginx's log, not for clients
    named_calls = r'"POST /[^ ]+/mcp HTTP/1.1" 200 .* mcp=tools/call name="add"'
    for _ in range(50):  # nginx writes a line once the request is finalized, just after the answer
        log = nginx.access_log()
        if len(re.findall(named_calls, log)) == 2:
            break
        anyio.run(anyio.sleep, 0.1)
    assert len(re.findall(named_calls, log)) == 2, log
    assert re.search(r'"POST /[^ ]+/mcp HTTP/1.1" 200 .* mcp=initialize name=""', log), log


def test_requests_are_limited_per_client(edge):
    """A client past its burst gets 429 with Retry-After; another client's calls still pass; after
    a second the first gets through again."""
    _, nginx, base, ca, (_, flooding, other) = edge  # tokens of their own: the first one's calls are counted too
    with httpx.Client(verify=ca, timeout=30) as client:  # one kept connection: requests come fast

        def call(token: str) -> httpx.Response:
            headers = MCP_HEADERS | {"Authorization": f"Bearer {token}"}
            return client.post(base + "/mcp", json=TOOLS_CALL, headers=headers)

        started = time.monotonic()
        answers = [call(flooding) for _ in range(10 * RATE)]
        elapsed = time.monotonic() - started
        other_client = call(other).status_code
        anyio.run(anyio.sleep, 1.2)
        again = call(flooding).status_code
    statuses = [answer.status_code for answer in answers]
    # The burst, then RATE a second of the time the requests took (however slow the machine); 429 for the rest.
    allowed = 2 * RATE + int(elapsed * RATE) + 1
    assert statuses[: 2 * RATE] == [200] * (2 * RATE) and set(statuses) == {200, 429}, statuses
    assert statuses.count(200) <= allowed, (statuses, elapsed)
    refused = next(answer for answer in answers if answer.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == "too_many_requests"
    assert other_client == 200
    assert again == 200
