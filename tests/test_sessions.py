"""Sessions that live in one process (SSE, and streamable-http with `sessions: stateful`), reached
through any worker and any replica (mcp_sessions.py), on this machine; the end-to-end suite runs
the same through Swarm and a compose container.

The servers here (tests/sessions/) have a tool that asks the client in the middle of the call
(ctx.elicit(): a request from the server over the session) and reports progress; the client is the
mcp 1.x SDK's, on the 2025-11-25 revision, as Claude Code and VS Code speak it today.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path

import httpx
import pytest
from conftest import render
from e2e.nginx import Nginx
from e2e.ports import free_port
from mcp_probe import MCP_HEADERS, asked_in_sessions
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import children, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
ASKING_SERVER = Path(__file__).resolve().parent / "sessions" / "asking_server.py"
# The generations whose server class offers ctx.elicit() and ctx.report_progress() alike: how the
# asking server imports and makes it in each (run at each one's newest supported version).
ASKING = {
    "mcp1-fastmcp": ("from mcp.server.fastmcp import Context, FastMCP", 'FastMCP("weather")'),
    "mcp2-mcpserver": ("from mcp.server.mcpserver import Context, MCPServer", 'MCPServer("weather")'),
    "fastmcp": ("from fastmcp import Context, FastMCP", 'FastMCP("weather")'),
}
NEWEST = {version.sdk: version for version in sdk_versions() if version.sdk in ASKING}
CASES = [
    ("mcp1-fastmcp", "streamable-http"),
    ("mcp1-fastmcp", "sse"),
    ("mcp2-mcpserver", "streamable-http"),
    ("mcp2-mcpserver", "sse"),
    ("fastmcp", "streamable-http"),
]
ENDPOINT = {"streamable-http": "/mcp", "sse": "/sse"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def asking_server(sdk: str) -> str:
    """The asking server, as it is written for the generation `sdk`."""
    text = ASKING_SERVER.read_text()
    for written, instead in zip(ASKING["mcp1-fastmcp"], ASKING[sdk], strict=True):
        assert written in text
        text = text.replace(written, instead)
    return text


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("sessions"), config_file=None)
    made = {}
    for sdk, transport in CASES:
        answers = {"sessions": "stateful"} if transport == "streamable-http" else {"transport": "sse"}
        project = render(copie, sdk=sdk, use_nginx=False, **answers)
        (project / "server.py").write_text(asking_server(sdk))
        made[sdk, transport] = project
    return made


@pytest.fixture(scope="module")
def mcp_sessions(projects):
    path = projects["mcp1-fastmcp", "sse"] / "mcp_sessions.py"
    spec = importlib.util.spec_from_file_location("rendered_mcp_sessions", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("address", ["10.0.1.17", "fd00::5"])
def test_a_session_id_names_its_owner_and_only_the_keys_sign_it(mcp_sessions, address):
    key, other = secrets.token_hex(32), secrets.token_hex(32)
    owner = mcp_sessions.Owner(address, 8000, 3)
    minted = mcp_sessions.Routes(owner, [key]).mint("0123456789abcdef0123456789abcdef")
    assert minted.startswith("0123456789abcdef0123456789abcdef.")
    assert all(0x21 <= ord(c) <= 0x7E for c in minted)  # visible ASCII, as the protocol requires
    reader = mcp_sessions.Routes(mcp_sessions.Owner("10.0.1.18", 8000, 0), [other, key])  # rotation: NEW,OLD
    assert reader.read(minted) == ("0123456789abcdef0123456789abcdef", owner, True)
    assert mcp_sessions.Routes(owner, [other]).read(minted)[2] is False
    forged = minted[:-1] + ("0" if minted[-1] != "0" else "1")
    assert reader.read(forged)[2] is False
    assert reader.read("0123456789abcdef0123456789abcdef") == ("0123456789abcdef0123456789abcdef", None, False)
    assert reader.read("not.hex") == ("not.hex", None, False)


@pytest.mark.parametrize(("sdk", "transport"), CASES, ids=[f"{sdk}-{transport}" for sdk, transport in CASES])
def test_a_session_is_served_by_its_own_worker(projects, sdk, transport):
    """Two workers on one port: each session's requests, which the kernel spreads over both, reach
    the worker that holds the session, and the question the tool asks mid-call reaches the client."""
    with serving(projects[sdk, transport], sdk_python(NEWEST[sdk]), MCP_SERVE_WORKERS="2") as base:
        workers = children(base.process.pid)
        report = asked_in_sessions(base + ENDPOINT[transport], transport, sessions=8, calls=3)
    assert (report["ok"], report["failed"], report["new_sessions"]) == (24, 0, 0), report["errors"][:3]
    assert report["processes"] <= set(map(str, workers))
    assert report["progress"] == 48  # two notifications a call, none lost on the way
    passed_on = (projects[sdk, transport] / "serve.log").read_text().count('INFO:     - - "')
    assert passed_on > 0  # requests that reached the other worker, passed on over its Unix socket


def test_a_stateless_server_cannot_ask_a_2025_11_25_client_in_the_middle_of_a_call(projects, tmp_path):
    """Why the sessions answer exists: served stateless, the same tool fails for that client (no
    back-channel), on one process."""
    project = tmp_path / "stateless"
    shutil.copytree(projects["mcp2-mcpserver", "streamable-http"], project)
    serve = project / "mcp_serve.py"
    serve.write_text(serve.read_text().replace("STATELESS_HTTP = False", "STATELESS_HTTP = True"))
    with serving(project, sdk_python(NEWEST["mcp2-mcpserver"])) as base:
        with pytest.raises(Exception) as failed:  # noqa: PT011 - the SDK's McpError, in a task group
            asked_in_sessions(base + "/mcp", "streamable-http", sessions=1, calls=1)
    error = failed.value
    while getattr(error, "exceptions", None):  # the task groups': what they hold
        error = error.exceptions[0]
    assert "no back-channel for server-initiated requests" in str(error)


def round_robin(tmp_path: Path, ports: list[int]) -> tuple[Nginx, str]:
    """Real nginx spreading requests over the replicas one by one, with no affinity of any kind (a
    request to a replica that is gone goes to the next, as the Swarm stack's nginx does)."""
    listen = free_port()
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in ports)
    conf = tmp_path / "round-robin.conf"
    conf.write_text(
        f"upstream replicas {{\n{servers}}}\n"
        f"server {{\n    listen 127.0.0.1:{listen};\n    location / {{\n"
        "        proxy_pass http://replicas;\n        proxy_http_version 1.1;\n"
        '        proxy_set_header Connection "";\n        proxy_set_header Host $http_host;\n'
        "        proxy_buffering off;\n        proxy_read_timeout 1h;\n"
        # As the Swarm stack's nginx: a request to a replica that is gone goes to another.
        "        proxy_next_upstream error timeout non_idempotent;\n    }\n}\n"
    )
    return Nginx(tmp_path / "nginx", conf), f"http://127.0.0.1:{listen}"


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_replicas_pass_a_session_on_and_losing_one_ends_only_its_own(projects, transport, tmp_path):
    """Two replicas of two workers each, sharing MCP_REPLICA_KEYS, behind nginx round-robin (no
    affinity): every call reaches its session's process. Halfway, one replica is killed: the
    sessions it held end (404: the client starts a new one, which the other replica serves); the
    others go on."""
    project, python = projects["mcp2-mcpserver", transport], sdk_python(NEWEST["mcp2-mcpserver"])
    replicas = [tmp_path / f"replica-{n}" for n in (1, 2)]
    for replica in replicas:
        shutil.copytree(project, replica)
    ports = [free_port(), free_port()]
    settings = {"MCP_REPLICA_KEYS": secrets.token_hex(32), "MCP_SERVE_WORKERS": "2"}
    nginx, front = round_robin(tmp_path, ports)
    with (
        serving(replicas[0], python, MCP_SERVE_PORT=str(ports[0]), **settings) as first,
        serving(replicas[1], python, MCP_SERVE_PORT=str(ports[1]), **settings) as second,
        nginx.start(wait_ports=[int(front.rsplit(":", 1)[1])]),
    ):
        kept, lost = ({str(pid) for pid in children(base.process.pid)} for base in (first, second))

        def lose_the_second() -> None:
            for pid in [second.process.pid, *map(int, lost)]:
                os.kill(pid, signal.SIGKILL)

        report = asked_in_sessions(
            front + ENDPOINT[transport], transport, sessions=8, calls=4, pause_after=2, on_pause=lose_the_second
        )
    # Each session's first call tells which process holds it: those held by the lost replica end,
    # and only those (one new session each); every call is answered in the end.
    held_by_lost = sum(process in lost for process in report["held_by"][:8])
    assert 0 < held_by_lost < 8, report["held_by"]
    assert (report["ok"], report["failed"], report["new_sessions"]) == (32, 0, held_by_lost), report["errors"][:3]


def test_a_session_is_not_passed_to_a_replica_the_keys_do_not_sign(projects, tmp_path):
    """A session id made by a replica with other keys (or made up) is not passed on: 404, so a
    client's id cannot send the server's requests to an address of its choosing."""
    project, python = projects["mcp2-mcpserver", "streamable-http"], sdk_python(NEWEST["mcp2-mcpserver"])
    replicas = [tmp_path / f"replica-{n}" for n in (1, 2)]
    for replica in replicas:
        shutil.copytree(project, replica)
    with (
        serving(replicas[0], python, MCP_REPLICA_KEYS=secrets.token_hex(32)) as first,
        serving(replicas[1], python, MCP_REPLICA_KEYS=secrets.token_hex(32)) as second,
    ):
        opened = httpx.post(first + "/mcp", json=INITIALIZE, headers=MCP_HEADERS, timeout=10)
        session = opened.headers["mcp-session-id"]
        listed = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        headers = {**MCP_HEADERS, "MCP-Protocol-Version": "2025-11-25", "Mcp-Session-Id": session}
        assert httpx.post(first + "/mcp", json=listed, headers=headers, timeout=10).status_code == 200
        refused = httpx.post(second + "/mcp", json=listed, headers=headers, timeout=10)
    assert refused.status_code == 404
    assert refused.json()["error"]["message"] == "Session not found"
