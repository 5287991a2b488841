"""check_deployment.py, the rendered project's own check of a live deployment: it passes against a
healthy server and fails, naming the cause, against each broken one that can be made here. (Through
nginx with TLS, and with nothing behind nginx: tests/e2e/test_deployments.py.)"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import render
from e2e.ports import free_port
from http_recorder import recording_server
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import add_client, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
NEWEST = {version.sdk: version for version in sdk_versions()}
ADD = ["--tool", "add", "--arguments", '{"a": 2, "b": 3}']


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("check"), config_file=None)
    return render(copie, use_nginx=False)


def check(project: Path, *arguments: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "check_deployment.py", *arguments], cwd=project, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout


def test_a_healthy_deployment_passes_and_each_broken_one_fails_naming_the_cause(project):
    token = add_client(project, "ci")
    with serving(project, python=sdk_python(NEWEST["mcp2-mcpserver"]), MCP_AUTH="tokens") as base:
        url = base + "/mcp"
        code, out = check(project, url, "--token", token, *ADD)
        assert code == 0, out
        assert "ok    MCP        " in out and "add answered" in out and "tools/list median" in out
        assert "ok    auth       401 without a token" in out

        code, out = check(project, url, "--token", "0" * 64, *ADD)
        assert code == 1 and "FAIL  MCP        the credential was refused (401)" in out
        code, out = check(project, url, *ADD)
        assert code == 1 and "no token: set $" in out
        code, out = check(project, base + "/sse", "--token", token)
        assert code == 1 and "the URL ends in /sse, but streamable-http serves /mcp" in out
        code, out = check(project, url, "--token", token, "--tool", "add", "--arguments", "{}")
        assert code == 1 and "add answered an error" in out

        # The client files say another transport than the server runs.
        clients = project / "clients" / "claude-code.mcp.json"
        original = clients.read_text()
        clients.write_text(original.replace('"type": "http"', '"type": "sse"'))
        try:
            code, out = check(project, url, "--token", token)
            assert code == 1 and "claude-code.mcp.json says type sse, but streamable-http needs http" in out
        finally:
            clients.write_text(original)

    # Open to anyone, where the answers say a token is needed; fine when that is what is meant.
    with serving(project, python=sdk_python(NEWEST["mcp2-mcpserver"]), MCP_AUTH="none") as base:
        code, out = check(project, base + "/mcp", "--token", token)
        assert code == 1 and "without a credential the answer was 200, not 401" in out
        code, out = check(project, base + "/mcp", "--credential", "none", *ADD)
        assert code == 0 and "ok    auth       none expected" in out, out

    # A server that never starts: --wait gives up, saying so.
    code, out = check(project, f"http://127.0.0.1:{free_port()}/mcp", "--token", token, "--wait", "2")
    assert code == 1 and "FAIL  start      not answering after 2 s: nothing answers at" in out, out

    # Nothing listening.
    code, out = check(project, f"http://127.0.0.1:{free_port()}/mcp", "--token", token)
    assert code == 1 and "(connection refused)" in out

    # A public URL over plain HTTP.
    code, out = check(project, "http://mcp.invalid/mcp", "--token", token)
    assert code == 1 and "is plain HTTP: a credential would cross the network readable" in out
    assert json.loads((project / "clients" / "claude-code.mcp.json").read_text())


def own_address() -> str:
    """This machine's address on its network (not loopback): where a deployment on another host would be."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        return probe.getsockname()[0]


def test_a_token_is_never_sent_over_plain_http_to_another_host(project):
    """The checks that need no credential run; the token is not sent, and the report says why."""
    address = own_address()
    assert not address.startswith("127.")
    token = add_client(project, "plain")
    with recording_server(address, lambda path: (401, {"WWW-Authenticate": "Bearer"})) as (port, seen):
        code, out = check(project, f"http://{address}:{port}/mcp", "--token", token, *ADD)
    assert code == 1, out
    assert "is plain HTTP: a credential would cross the network readable" in out
    assert "FAIL  MCP        not checked: the token is not sent over plain HTTP to another host" in out
    assert seen and all(authorization is None for _, _, authorization in seen), seen


def test_a_redirect_is_named_and_never_followed_with_the_token(project):
    """A redirect to another origin (another port here; https to http, another host alike) is not
    followed: the check stops and names where it pointed, and the other origin sees nothing."""
    token = add_client(project, "redirected")
    with recording_server("127.0.0.1", lambda path: (200, {})) as (elsewhere, seen_elsewhere):
        target = f"http://127.0.0.1:{elsewhere}/mcp"
        with recording_server("127.0.0.1", lambda path: (307, {"Location": target})) as (port, seen):
            code, out = check(project, f"http://127.0.0.1:{port}/mcp", "--token", token, *ADD)
    assert code == 1, out
    assert f"redirects (307) to {target}: not followed" in out, out
    assert seen and seen_elsewhere == []
