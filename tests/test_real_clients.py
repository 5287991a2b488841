"""Real MCP clients, from npm, read the rendered client files and reach a rendered server.

No Docker, but the path a user's client takes: the project (auth=tokens, nginx in front) is served on
this machine as its compose file would run it (tests/served_project.py, on the loopback port nginx
passes to), behind Debian's nginx running the rendered nginx/NAME.conf with a test certificate. The
client files name https://localhost:PORT/weather/...; the clients trust the test CA through
NODE_EXTRA_CA_CERTS, as Node.js clients trust a private CA. A token is made as DEPLOYMENT.md says. Each
client gets the file as the user would place it, the token only in the variable the file names, and
must connect with the right token and be refused with a wrong one (the server's log shows the 401):

- Claude Code reads clients/claude-code.mcp.json as a project's .mcp.json, and the server that
  DEPLOYMENT.md's `claude mcp add` command adds (`claude mcp list` checks each server and says
  "✔ Connected" or why not); without the CA it must fail on the certificate;
- Gemini CLI reads clients/gemini.settings.json from its home folder (`gemini mcp list` connects to
  each server and says "Connected" or "Disconnected");
- the files that run `npx -y mcp-remote` (Zed with a token, Claude Desktop) are run as written by
  the MCP Inspector's CLI, a stdio host as Zed and Claude Desktop are, which calls a tool through them;
- with auth=oauth and a real authorization server (oidc-provider, tests/e2e/authorization_server.py),
  the mcp-remote command of clients/claude-desktop.json runs the whole OAuth login itself (discovery
  from the 401, dynamic registration, authorization code with PKCE, its own local callback): the
  browser it opens is a script that hands the URL to the test, which logs in and consents as a person
  would (served directly, without nginx);
- OpenAI Codex reads clients/codex.config.toml (its parser is strict); it connects only in a session,
  which needs an OpenAI account, so only what it made of the file is checked.

The clients are pinned in tests/real_clients (package.json and its lock file) and installed with
`npm ci` once into the tests' cache; without npm or the registry the tests are skipped.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml
from answer_sets import AUTHS, BASE_ANSWERS, OAUTH_ANSWERS, TRANSPORTS
from conftest import render
from e2e.authorization_server import authorization_server
from e2e.certs import TlsCerts, make_certs
from e2e.debian import DebianPackagesError
from e2e.nginx import Nginx
from e2e.node_packages import NodePackageError, installed_packages
from e2e.ports import free_ports
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import add_client, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_CLIENTS = Path(__file__).resolve().parent / "real_clients"
SDK = "mcp2-mcpserver"
NAME = "weather-mcp"
TOKEN_VAR = "WEATHER_MCP_TOKEN"
WRONG = "0" * 64


@pytest.fixture(scope="module")
def clients() -> Path:
    """The folder the pinned clients are installed in (node_modules/.bin holds their commands)."""
    try:
        return installed_packages(REAL_CLIENTS, "real-clients", minimum_node=(20, 0))
    except (NodePackageError, DebianPackagesError, OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"the real clients could not be installed from npm: {error}")


@pytest.fixture(scope="module")
def tls(tmp_path_factory) -> TlsCerts:
    """A test CA and nginx's certificate for localhost, the public host the projects answer."""
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def projects(tmp_path_factory, tls) -> dict[str, tuple[Path, int, str]]:
    """Per transport: a new project with auth=tokens behind nginx with HTTPS on ports of its own
    (the client files name https://localhost:PORT/weather/...), and a client's token."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("real"), config_file=None)
    made = {}
    for transport in TRANSPORTS:
        port, https_port, http_port = free_ports(3)
        answers = {
            **BASE_ANSWERS,
            "sdk": SDK,
            "transport": transport,
            "auth": "tokens",
            "use_nginx": True,
            "public_host": "localhost",
            "url_prefix": "weather",
            "port": port,
            "https_port": https_port,
            "http_port": http_port,
            "ssl_certificate": str(tls.cert_chain),
            "ssl_certificate_key": str(tls.private_key),
        }
        project = render(copie, **answers)
        made[transport] = project, https_port, add_client(project, "real-client")
    return made


@contextmanager
def served(project: Path, https_port: int, workdir: Path):
    """The server as docker-compose.yaml runs it (its environment), on the host's loopback port the
    compose file publishes it on; and nginx with the rendered configuration in front."""
    nginx = Nginx(workdir / "nginx", project / "nginx" / f"{NAME}.conf")
    with serving_as_composed(project):
        nginx.start(wait_ports=(https_port,))
        try:
            yield
        finally:
            nginx.stop()


def serving_as_composed(project: Path):
    """mcp_serve.py with the environment docker-compose.yaml gives the container: the values the file
    sets itself (the others come from .env, and have working defaults), on the host's loopback port
    the file publishes (in the container it binds 0.0.0.0)."""
    service = yaml.safe_load((project / "docker-compose.yaml").read_text())["services"][NAME]
    env = {key: value for key, value in service["environment"].items() if "${" not in value}
    env["MCP_SERVE_HOST"] = "127.0.0.1"
    newest = {version.sdk: version for version in sdk_versions()}
    return serving(project, python=sdk_python(newest[SDK]), **env)


def trusting(tls: TlsCerts) -> dict[str, str]:
    """What makes a Node.js client trust the test CA besides the system's (a real certificate needs nothing)."""
    return {"NODE_EXTRA_CA_CERTS": str(tls.ca_bundle)}


def run_client(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """A client's command, with no terminal (nothing can be answered) and only the environment given."""
    return subprocess.run(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )


def refusals(project: Path) -> int:
    return (project / "serve.log").read_text().count('" 401')


def claude_command(clients: Path, folder: Path) -> Path:
    """A `claude` command for the pinned Claude Code. npm installs the native binary of this platform
    as an optional package; the package's own launcher finds it (its install script, which would copy
    it over `claude`, is not run: the tests install without scripts)."""
    folder.mkdir(exist_ok=True)
    command = folder / "claude"
    launcher = clients / "node_modules/@anthropic-ai/claude-code/cli-wrapper.cjs"
    command.write_text(f'#!/bin/sh\nexec node {shlex.quote(str(launcher))} "$@"\n')
    command.chmod(0o755)
    return command


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_claude_code_connects_with_the_rendered_mcp_json(clients, projects, tls, tmp_path, transport):
    project, https_port, token = projects[transport]
    bin_folder = tmp_path / "bin"
    claude = claude_command(clients, bin_folder)
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    # An interactive `claude` asks before it uses a project's .mcp.json servers; this user setting is
    # that approval given beforehand (there is no terminal here to answer).
    (home / ".claude/settings.json").write_text(json.dumps({"enableAllProjectMcpServers": True}))
    # The rendered file as the project's .mcp.json.
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(project / "clients/claude-code.mcp.json", work / ".mcp.json")
    url = json.loads((work / ".mcp.json").read_text())["mcpServers"][NAME]["url"]
    kind = "HTTP" if transport == "streamable-http" else "SSE"
    base_env = {
        "HOME": str(home),
        "PATH": f"{bin_folder}:{os.environ['PATH']}",
        # Nothing but the MCP server is reached: no telemetry, no update checks.
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }

    def mcp_list(folder: Path, **env: str) -> str:
        done = run_client([str(claude), "mcp", "list"], folder, {**base_env, **env})
        return done.stdout + done.stderr

    with served(project, https_port, tmp_path):
        connected = mcp_list(work, **trusting(tls), **{TOKEN_VAR: token})
        before = refusals(project)
        wrong = mcp_list(work, **trusting(tls), **{TOKEN_VAR: WRONG})
        refused = refusals(project) - before
        untrusted = mcp_list(work, **{TOKEN_VAR: token})
        # DEPLOYMENT.md's command, run by sh in a folder without .mcp.json: the same server, in the
        # user's own configuration.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        added = run_client(["sh", "-c", claude_add_command(project)], elsewhere, {**base_env, TOKEN_VAR: token})
        assert added.returncode == 0, added.stdout + added.stderr
        connected_as_documented = mcp_list(elsewhere, **trusting(tls))
    assert f"{NAME}: {url} ({kind}) - ✔ Connected" in connected, connected
    assert f"{NAME}: {url} ({kind}) - ✘ Failed to connect" in wrong and "HTTP 401" in wrong, wrong
    assert refused >= 1, "the server refused nothing: the wrong token was never sent"
    # TLS is checked: without the CA that signed nginx's certificate, no connection.
    assert "✘ Failed to connect" in untrusted and "unable to verify" in untrusted.lower(), untrusted
    assert f"{NAME}: {url} ({kind}) - ✔ Connected" in connected_as_documented, connected_as_documented


def claude_add_command(project: Path) -> str:
    """DEPLOYMENT.md's `claude mcp add ...` line, as the user pastes it into a shell."""
    docs = (project / "DEPLOYMENT.md").read_text()
    [line] = [line for line in docs.splitlines() if line.startswith("claude mcp add ")]
    return line


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_gemini_cli_connects_with_the_rendered_settings(clients, projects, tls, tmp_path, transport):
    project, https_port, token = projects[transport]
    # The user's ~/.gemini/settings.json: the rendered file, merged. Gemini CLI lists no server in a
    # folder it has not been told to trust; the test's folder is trusted by turning the check off.
    home = tmp_path / "home"
    (home / ".gemini").mkdir(parents=True)
    settings = json.loads((project / "clients/gemini.settings.json").read_text())
    settings["security"] = {"folderTrust": {"enabled": False}}
    (home / ".gemini/settings.json").write_text(json.dumps(settings))
    work = tmp_path / "work"
    work.mkdir()
    server = settings["mcpServers"][NAME]
    url = server.get("httpUrl") or server["url"]
    kind = "http" if transport == "streamable-http" else "sse"

    def mcp_list(value: str | None) -> str:
        env = {"HOME": str(home), "PATH": os.environ["PATH"], **trusting(tls), **({TOKEN_VAR: value} if value else {})}
        done = run_client([str(clients / "node_modules/.bin/gemini"), "mcp", "list"], work, env)
        return done.stdout + done.stderr

    with served(project, https_port, tmp_path):
        connected = mcp_list(token)
        before = refusals(project)
        wrong = mcp_list(WRONG)
        refused = refusals(project) - before
        unset = mcp_list(None)
        # DEPLOYMENT.md's command instead of the file, into a settings.json of its own: the same entry.
        (home / ".gemini/settings.json").write_text(json.dumps({"security": settings["security"]}))
        documented = gemini_add_command(project)
        gemini = str(clients / "node_modules/.bin/gemini")
        added = run_client([gemini, *documented[1:]], work, {"HOME": str(home), "PATH": os.environ["PATH"]})
        assert added.returncode == 0, added.stdout + added.stderr
        written = json.loads((home / ".gemini/settings.json").read_text())["mcpServers"][NAME]
        connected_as_documented = mcp_list(token)
    assert f"✓ {NAME}: {url} ({kind}) - Connected" in connected, connected
    assert f"✗ {NAME}: {url} ({kind}) - Disconnected" in wrong, wrong
    assert refused >= 1, "the server refused nothing: the wrong token was never sent"
    assert "Disconnected" in unset and "Connected\n" not in unset.replace("Disconnected", ""), unset
    # The command stores the variable, not the token (single quotes in DEPLOYMENT.md).
    assert written["headers"] == {"Authorization": f"Bearer ${{{TOKEN_VAR}}}"}, written
    assert f"✓ {NAME}: {url} ({kind}) - Connected" in connected_as_documented, connected_as_documented


def gemini_add_command(project: Path) -> list[str]:
    """DEPLOYMENT.md's `gemini mcp add ...` line, split as sh splits it."""
    docs = (project / "DEPLOYMENT.md").read_text()
    [line] = [line for line in docs.splitlines() if line.startswith("gemini mcp add ")]
    return shlex.split(line)


def bridge_commands(project: Path, token: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """The mcp-remote commands of the rendered files, as the user sets them up: Zed's settings
    read the token from the environment Zed starts in; Claude Desktop's has `Bearer <your token>`
    to replace with the token."""
    zed = json.loads((project / "clients/zed.settings.json").read_text())["context_servers"][NAME]
    desktop = json.loads((project / "clients/claude-desktop.json").read_text())["mcpServers"][NAME]
    desktop_env = {key: value.replace("<your token>", token) for key, value in desktop["env"].items()}
    return {
        "zed": ([zed["command"], *zed["args"]], {TOKEN_VAR: token}),
        "claude-desktop": ([desktop["command"], *desktop["args"]], desktop_env),
    }


@pytest.mark.parametrize("client", ["zed", "claude-desktop"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_mcp_remote_bridge_files_call_a_tool(clients, projects, tls, tmp_path, transport, client):
    project, https_port, token = projects[transport]
    command, env = bridge_commands(project, token)[client]
    assert command[:3] == ["npx", "-y", "mcp-remote"]
    home = tmp_path / "home"  # mcp-remote keeps what it learns of a server under ~/.mcp-auth
    home.mkdir()

    def call(environment: dict[str, str]) -> subprocess.CompletedProcess:
        # The Inspector passes a stdio server only the variables it is given (-e), like a host's
        # "env"; `npx -y mcp-remote` runs from the install folder, so npx finds the pinned
        # mcp-remote there instead of fetching one.
        passed = {**environment, "HOME": str(home), **trusting(tls)}
        given = [part for key, value in passed.items() for part in ("-e", f"{key}={value}")]
        return subprocess.run(
            [str(clients / "node_modules/.bin/mcp-inspector"), "--cli", *given]
            + ["--method", "tools/call", "--tool-name", "add", "--tool-arg", "a=2", "b=3", "--", *command],
            cwd=clients,
            env={**os.environ, "HOME": str(home), "MCP_INSPECTOR_SECRET_STORE": "memory"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with served(project, https_port, tmp_path):
        right = call(env)
        before = refusals(project)
        wrong = call({key: value.replace(token, WRONG) for key, value in env.items()})
        refused = refusals(project) - before
    assert right.returncode == 0, right.stdout[-2000:] + right.stderr[-2000:]
    assert json.loads(right.stdout)["structuredContent"] == {"result": 5}
    assert wrong.returncode != 0 and '"result": 5' not in wrong.stdout, wrong.stdout[-2000:]
    assert refused >= 1, "the server refused nothing: the wrong token was never sent"


@pytest.mark.parametrize("auth", AUTHS)
def test_codex_reads_the_rendered_config_toml(clients, tmp_path, auth):
    """Codex parses its config.toml strictly (an inline bearer_token is an error); `codex mcp get`
    shows what it made of the rendered file. (Codex connects only in a session, which needs an
    OpenAI account: not run here.)"""
    (tmp_path / "render").mkdir()
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path / "render", config_file=None)
    answers = {**BASE_ANSWERS, "sdk": SDK, "use_nginx": False, "transport": "streamable-http", "auth": auth}
    if auth == "oauth":
        answers |= OAUTH_ANSWERS | {"oauth_resource": "https://weather.example.com/weather/mcp"}
    project = render(copie, **answers)
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    (codex_home / "config.toml").write_text((project / "clients/codex.config.toml").read_text())
    env = {"HOME": str(tmp_path), "CODEX_HOME": str(codex_home), "PATH": os.environ["PATH"]}

    def codex(*args: str) -> subprocess.CompletedProcess:
        command = [str(clients / "node_modules/.bin/codex"), "mcp", *args]
        return subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)

    shown = codex("get", NAME, "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    transport = json.loads(shown.stdout)["transport"]
    url = "http://localhost:8000/mcp" if auth != "oauth" else "https://weather.example.com/weather/mcp"
    assert transport["type"] == "streamable_http" and transport["url"] == url
    assert transport["bearer_token_env_var"] == (TOKEN_VAR if auth == "tokens" else None)
    assert transport["http_headers"] is None and transport["env_http_headers"] is None
    listed = codex("list")
    assert listed.returncode == 0 and NAME in listed.stdout, listed.stdout + listed.stderr


def test_mcp_remote_runs_the_oauth_login_of_the_rendered_file(clients, tmp_path):
    """auth=oauth: Claude Desktop's file runs `npx -y mcp-remote URL`, which finds the authorization
    server from the server's 401, registers itself, and opens the login page in a browser. Here the
    browser (BROWSER, which mcp-remote's opener honours) is a script that writes the URL down; the test
    logs in and consents on that page, and follows the redirect to mcp-remote's own callback on
    localhost, as the browser would. The tool is then called with the access token mcp-remote got."""
    port = free_ports(1)[0]
    resource = f"http://127.0.0.1:{port}/mcp"
    with authorization_server({resource: {"scopes": ["mcp:tools"], "format": "jwt"}}) as auth:
        (tmp_path / "render").mkdir()
        copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path / "render", config_file=None)
        answers = {**BASE_ANSWERS, "sdk": SDK, "use_nginx": False, "auth": "oauth", "port": port}
        answers |= {"oauth_issuer": auth.issuer, "oauth_resource": resource, "oauth_scopes": ["mcp:tools"]}
        project = render(copie, **answers)
        desktop = json.loads((project / "clients/claude-desktop.json").read_text())["mcpServers"][NAME]
        assert "env" not in desktop and "--header" not in desktop["args"]  # nothing to paste but the URL
        opened = tmp_path / "opened-url"
        browser = tmp_path / "browser"
        browser.write_text(f"#!/bin/sh\nprintf '%s' \"$1\" >{shlex.quote(str(opened))}\n")
        browser.chmod(0o755)
        home = tmp_path / "home"
        home.mkdir()
        with serving_as_composed(project):
            client = subprocess.Popen(
                [str(clients / "node_modules/.bin/mcp-inspector"), "--cli", "-e", f"HOME={home}"]
                + ["-e", f"BROWSER={browser}", "--method", "tools/call", "--tool-name", "add"]
                + ["--tool-arg", "a=2", "b=3", "--", desktop["command"], *desktop["args"]],
                cwd=clients,
                env={**os.environ, "HOME": str(home), "BROWSER": str(browser), "MCP_INSPECTOR_SECRET_STORE": "memory"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                deadline = time.monotonic() + 90
                while not (opened.exists() and opened.read_text()):
                    assert client.poll() is None and time.monotonic() < deadline, "no login page was opened"
                    time.sleep(0.2)
                login_url = opened.read_text()
                callback = auth.authorize(login_url)  # the login and consent pages, filled in
                assert callback.startswith("http://localhost:") and "code=" in callback, callback
                assert httpx.get(callback, timeout=15).status_code == 200  # mcp-remote's own callback
                out, err = client.communicate(timeout=120)
            finally:
                if client.poll() is None:
                    client.kill()
        log = (project / "serve.log").read_text()
    assert client.returncode == 0, out[-2000:] + err[-2000:]
    assert json.loads(out)["structuredContent"] == {"result": 5}
    assert login_url.startswith(auth.authorization_endpoint) and "code_challenge_method=S256" in login_url
    assert "resource=" in login_url  # RFC 8707: a token for this server only
    # The first request was refused and sent the client to the metadata; a call with the token passed.
    assert '"POST /mcp HTTP/1.1" 401' in log and "GET /.well-known/oauth-protected-resource/mcp" in log
    assert '"POST /mcp HTTP/1.1" 200' in log
