"""The server's own bearer-token check (mcp_auth.py, MCP_AUTH=tokens): on every generation, as a
deployment without the host nginx runs it.

Tokens are made and listed as DEPLOYMENT.md says (its "Clients and tokens" commands, run as printed);
a refused request never reaches a tool (the example tool prints a marker: tests/tool_calls.py); the
file is read again while the server runs. Wrong settings stop the server with a message naming them.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import tool_calls
from answer_sets import ENDPOINTS, TRANSPORTS
from conftest import render
from e2e.ports import free_port
from mcp_probe import MCP_HEADERS, TOOLS_CALL, list_and_call, raw_tools_call
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import add_client, serving

from extensions.generations import GENERATIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
NEWEST = {version.sdk: version for version in sdk_versions()}
TOKENS_FILE = "mcp-tokens/clients.sha256"


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """One new project per generation, served directly (no nginx) with the default auth answer."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("auth"), config_file=None)
    rendered = {}
    for sdk in GENERATIONS:
        project = render(copie, sdk=sdk, use_nginx=False)
        tool_calls.instrument(project / "server.py")
        rendered[sdk] = project
    return rendered


def revoke(project: Path, name: str) -> None:
    """DEPLOYMENT.md's revoke command, as printed."""
    command = re.search(r"\(`(sed -i [^`]+)`\)", (project / "DEPLOYMENT.md").read_text()).group(1)
    subprocess.run(["sh", "-c", command.replace("claude-code", name)], cwd=project, check=True)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("sdk", GENERATIONS)
def test_tokens_checked_by_the_server(projects, sdk, transport):
    project = projects[sdk]
    (project / TOKENS_FILE).unlink(missing_ok=True)
    first, second = add_client(project, "claude-code"), add_client(project, "laptop-vscode")
    # The container's user (uid 10001) must reach the file through its folder, whatever the umask.
    assert (project / TOKENS_FILE).stat().st_mode & 0o004 and (project / TOKENS_FILE).parent.stat().st_mode & 0o005 == 5
    stored = (project / TOKENS_FILE).read_text()
    assert first not in stored and second not in stored  # hashes only

    with serving(project, python=sdk_python(NEWEST[sdk]), MCP_AUTH="tokens", MCP_SERVE_TRANSPORT=transport) as base:
        url = base + ENDPOINTS[transport]
        log = project / "serve.log"
        assert "auth: bearer tokens from" in log.read_text()
        # Every client's own token works, through the mcp SDK's client.
        for token in (first, second):
            assert list_and_call(url, transport, headers={"Authorization": f"Bearer {token}"}) == (["add"], "5")
        calls_allowed = tool_calls.count(log.read_text())
        assert calls_allowed == 2

        variants = {
            "no header": None,
            "wrong token": "Bearer " + "0" * 64,
            "upper-cased": f"Bearer {first.upper()}",
            "padded with =": f"Bearer {first}=",
            "one digit more": f"Bearer {first}0",
            "one digit less": f"Bearer {first[:-1]}",
            "prefixed": f"Bearer x{first}",
            "the hash itself": "Bearer " + stored.split()[0],
            "basic scheme": f"Basic {first}",
            "no scheme": first,
            "token with a space": f"Bearer {first[:32]} {first[32:]}",
        }
        for name, authorization in variants.items():
            response = raw_tools_call(base + ENDPOINTS["streamable-http"], authorization)
            assert response.status_code == 401, name
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="'), name
        # In the query string, the token counts for nothing.
        assert raw_tools_call(f"{base}{ENDPOINTS['streamable-http']}?access_token={first}", None).status_code == 401
        # Two Authorization headers: refused as malformed, whichever is valid.
        doubled = httpx.Headers([*MCP_HEADERS.items(), ("authorization", f"Bearer {first}"), ("authorization", "x")])
        assert httpx.post(base + ENDPOINTS["streamable-http"], json=TOOLS_CALL, headers=doubled).status_code == 400
        # The health check needs no token.
        assert httpx.get(base + "/healthz").status_code == 200

        # Revoked while running: the next request is refused; the other client is unaffected.
        revoke(project, "claude-code")
        assert raw_tools_call(base + ENDPOINTS["streamable-http"], f"Bearer {first}").status_code == 401
        assert list_and_call(url, transport, headers={"Authorization": f"Bearer {second}"}) == (["add"], "5")
        # Replaced by an editor (a new file under the same name): read again too.
        replacement = project / "mcp-tokens" / "replacement"
        replacement.write_text(f"# rotated\n{stored.splitlines()[0]}\n")
        replacement.replace(project / TOKENS_FILE)
        assert raw_tools_call(base + ENDPOINTS["streamable-http"], f"Bearer {second}").status_code == 401
        assert list_and_call(url, transport, headers={"Authorization": f"Bearer {first}"}) == (["add"], "5")
        # Deleted: every request refused, none let through.
        (project / TOKENS_FILE).unlink()
        assert raw_tools_call(base + ENDPOINTS["streamable-http"], f"Bearer {first}").status_code == 401

        text = log.read_text()
        assert tool_calls.count(text) == calls_allowed + 2, "a refused request reached the tool"
        # Tokens are never logged, whatever was sent.
        assert first not in text and second not in text
        assert "cannot read" in text and "every request is refused" in text


def test_no_auth_on_all_interfaces_is_loudly_warned(projects, tmp_path):
    with serving(projects["mcp1-fastmcp"], python=sdk_python(NEWEST["mcp1-fastmcp"]), MCP_AUTH="none") as base:
        assert httpx.get(base + "/healthz").status_code == 200
    assert "WARNING" not in (projects["mcp1-fastmcp"] / "serve.log").read_text()  # 127.0.0.1: only this machine
    started = start_and_wait(projects["mcp1-fastmcp"], MCP_AUTH="none", MCP_SERVE_HOST="0.0.0.0")
    assert "WARNING: MCP_AUTH=none: anyone who reaches this server can call every tool" in started


def start_and_wait(project: Path, **env: str) -> str:
    """Start mcp_serve.py, give it two seconds, stop it: what it printed (for settings it refuses, or warns about)."""
    environment = {"PATH": "/usr/bin:/bin", "MCP_SERVE_PORT": str(free_port()), **env}
    python = str(sdk_python(NEWEST["mcp1-fastmcp"]))
    process = subprocess.Popen(
        [python, "mcp_serve.py"], cwd=project, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        output, _ = process.communicate(timeout=4)
    except subprocess.TimeoutExpired:
        process.terminate()
        output, _ = process.communicate(timeout=10)
    return output.decode()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MCP_AUTH": "token"}, "Unknown MCP_AUTH 'token': expected one of tokens, oauth, none"),
        # A setting of older releases, when nginx checked the tokens: now nothing is left unchecked.
        ({"MCP_AUTH": "proxy"}, "MCP_AUTH=proxy is no more: the server checks credentials itself"),
        (
            {"MCP_AUTH": "tokens", "MCP_TOKENS_FILE": "/nonexistent/tokens"},
            "MCP_AUTH=tokens, but there is no tokens file at /nonexistent/tokens",
        ),
        (
            {
                "MCP_AUTH": "oauth",
                "MCP_OAUTH_ISSUER": "http://auth.example.com/",
                "MCP_OAUTH_RESOURCE": "https://x/mcp",
            },
            "MCP_OAUTH_ISSUER 'http://auth.example.com/' is not an https:// URL",
        ),
        (
            {"MCP_AUTH": "oauth", "MCP_OAUTH_ISSUER": "https://a.example.com/", "MCP_OAUTH_RESOURCE": ""},
            "MCP_OAUTH_RESOURCE '' is not an https:// URL",
        ),
        (
            {
                "MCP_AUTH": "oauth",
                "MCP_OAUTH_ISSUER": "https://a.example.com/",
                "MCP_OAUTH_RESOURCE": "https://x.example.com/mcp",
                "MCP_OAUTH_INTROSPECTION_URL": "https://a.example.com/introspect",
            },
            "MCP_OAUTH_INTROSPECTION_URL needs MCP_OAUTH_CLIENT_ID and MCP_OAUTH_CLIENT_SECRET",
        ),
    ],
    ids=["unknown-mode", "proxy", "no-tokens-file", "http-issuer", "no-resource", "introspection-without-client"],
)
def test_wrong_settings_stop_the_server_with_a_message_naming_them(projects, env, message):
    output = start_and_wait(projects["mcp1-fastmcp"], **env)
    assert message in output, output
    assert "Traceback" not in output


def test_run_with_no_settings_the_server_refuses_to_start_rather_than_serve_anyone(projects, tmp_path):
    """The image's own default is the answer (tokens): run as `docker run -p` would, with no setting and
    no tokens file, it stops with one line saying what to give it."""
    project = tmp_path / "bare"
    shutil.copytree(projects["mcp1-fastmcp"], project, ignore=shutil.ignore_patterns("mcp-tokens", "*.log"))
    output = start_and_wait(project)
    assert "MCP_AUTH=tokens, but there is no tokens file at" in output and "Traceback" not in output, output
    assert "Serving" not in output


def test_a_tokens_file_made_readable_is_read_at_once(projects, tmp_path):
    """A tokens file the server's user cannot read refuses every request; once a chmod makes it readable
    (nothing else about it changes), the next request is checked against it. Run without root's right to
    read any file (CAP_DAC_OVERRIDE), as the image's user is."""
    folder = tmp_path / "tokens"
    folder.mkdir()
    folder.chmod(0o755)
    tokens = folder / "clients.sha256"
    tokens.write_text(f"{hashlib.sha256(b'good-token').hexdigest()}  client\n")
    tokens.chmod(0o000)
    script = (
        "import importlib.util, sys, anyio\n"
        f"spec = importlib.util.spec_from_file_location('m', {str(projects['mcp1-fastmcp'] / 'mcp_auth.py')!r})\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        f"f = m.TokenFile(m.Path({str(tokens)!r}))\n"
        "def ok():\n"
        "    try:\n"
        "        anyio.run(f.check, 'good-token'); return 'accepted'\n"
        "    except m.Refused: return 'refused'\n"
        "print(ok(), flush=True); sys.stdin.readline(); print(ok(), flush=True)\n"
    )
    python = str(sdk_python(NEWEST["mcp1-fastmcp"]))
    child = subprocess.Popen(
        ["setpriv", "--bounding-set=-dac_override,-dac_read_search", python, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "refused"
    tokens.chmod(0o644)
    out, err = child.communicate("go\n", timeout=30)
    assert out.strip() == "accepted", err
    assert "cannot read" in err


def test_the_token_file_is_read_once_per_change(projects):
    """Each request looks at the file's inode, size and time only; its content is read when they change."""
    project = projects["mcp2-mcpserver"]
    (project / TOKENS_FILE).unlink(missing_ok=True)
    token = add_client(project, "ci")
    with serving(project, python=sdk_python(NEWEST["mcp2-mcpserver"]), MCP_AUTH="tokens") as base:
        for _ in range(20):
            assert raw_tools_call(base + "/mcp", f"Bearer {token}").status_code == 200
    assert (project / "serve.log").read_text().count("client token(s) in") == 1
