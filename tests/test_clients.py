"""The client configurations under clients/, one per client people use to reach a remote MCP server.

Each file is held to what its client reads, as its documentation and code say (DEPLOYMENT.md's
"Connect clients" names the sources): the file exists exactly for the answers the client can do,
it parses as the client parses it, it names the public URL under the client's own key for the
transport, and a bearer token appears only as the client's reference to a variable, never as a
value. With OAuth or no auth, no file sends an Authorization header: the client logs in itself,
or there is nothing to send.
"""

from __future__ import annotations

import itertools
import re

import linters
import pytest
from answer_sets import AUTHS, BASE_ANSWERS, ENDPOINTS, FRONT_ANSWERS, OAUTH_ANSWERS, TRANSPORTS, render_context
from conftest import render

NAME = "weather-mcp"  # the service name of BASE_ANSWERS' image
TOKEN_VAR = "WEATHER_MCP_TOKEN"
STREAMABLE = "streamable-http"

# The files of the clients added for issue 22, and the answers each client can do. The older four
# (Claude Code, VS Code, Cursor, Claude Desktop) are rendered for every answer; test_render_matrix.py
# checks them.
# Codex and goose speak streamable HTTP only (goose dropped SSE); Continue's IDE extension runs no
# MCP OAuth login of its own (continuedev/continue#6282 is open): DEPLOYMENT.md says what to use there.
CLIENT_FILES = {
    "windsurf.mcp_config.json": lambda transport, auth: True,
    "codex.config.toml": lambda transport, auth: transport == STREAMABLE,
    "gemini.settings.json": lambda transport, auth: True,
    "zed.settings.json": lambda transport, auth: True,
    "goose.config.yaml": lambda transport, auth: transport == STREAMABLE,
    "continue.config.yaml": lambda transport, auth: auth != "oauth",
    "cline_mcp_settings.json": lambda transport, auth: True,
    "librechat.yaml": lambda transport, auth: True,
}
OLDER_FILES = {"claude-code.mcp.json", "claude-desktop.json", "cursor.mcp.json", "vscode.mcp.json"}

ANSWERS = list(itertools.product(TRANSPORTS, AUTHS))


def bearer_references(text: str) -> list[str]:
    """What follows each "Bearer " in a file: each must be a variable reference, never a value."""
    return re.findall(r"Bearer ([^\"'\n]*)", text)


@pytest.mark.parametrize(("transport", "auth"), ANSWERS, ids=[f"{t}-{a}" for t, a in ANSWERS])
def test_client_files(copie, nginx_assets, transport, auth):
    """For one transport x auth: the files that exist, and each one's content."""
    answers = {**BASE_ANSWERS, **FRONT_ANSWERS, **nginx_assets, "transport": transport, "auth": auth}
    if auth == "oauth":
        answers |= OAUTH_ANSWERS
    project = render(copie, **answers)

    # A file exactly where the client can do the answers; none where it cannot.
    rendered = {path.name for path in (project / "clients").iterdir()}
    expected = {name for name, supports in CLIENT_FILES.items() if supports(transport, auth)}
    assert rendered == expected | OLDER_FILES

    url = render_context(project)["public_url"]
    assert url.startswith("https://mcp.example.com/") and url.endswith(ENDPOINTS[transport])
    for name in sorted(expected):
        path = project / "clients" / name
        text = path.read_text()
        config = linters.parse_client(path)  # JSON, YAML without a key given twice, TOML
        assert url in text, name
        if auth == "tokens":
            assert TOKEN_VAR in text, f"{name} does not name the token's variable"
            # Every bearer value is a reference the client resolves: ${VAR}, ${env:VAR}, ${{ secrets.VAR }}.
            for value in bearer_references(text):
                assert value.startswith("${") and TOKEN_VAR in value, f"{name}: Bearer {value}"
        else:
            assert "authorization" not in text.lower(), f"{name} sends a header with auth={auth}"
            assert TOKEN_VAR not in text, name
        CHECKS[name.split(".")[0]](config, url=url, transport=transport, auth=auth)

    # DEPLOYMENT.md says where each file goes, and for a client without one, what to use instead.
    docs = (project / "DEPLOYMENT.md").read_text()
    for name in rendered:
        assert f"`clients/{name}`" in docs, f"DEPLOYMENT.md does not say where clients/{name} goes"
    if transport != STREAMABLE:
        assert "**OpenAI Codex** and **goose** speak streamable HTTP only" in docs
    if auth == "oauth":
        assert "**Continue**: no file." in docs and '"mcp-remote"' in docs
    # Claude's connectors take a static header (beta since 2026-08-31); ChatGPT takes OAuth only.
    assert "never a static token" not in docs.split("**ChatGPT**")[0]
    assert ("static request headers" in docs) == (auth == "tokens")
    assert ("with `auth=tokens` it cannot connect" in docs) == (auth == "tokens")


# --- each client's own keys ----------------------------------------------------------------------


def check_windsurf(config, url, transport, auth):
    # Windsurf reads a remote server's URL from serverUrl (a url key does not connect) and expands
    # ${env:VAR} in headers; it tells SSE from streamable HTTP itself.
    server = config["mcpServers"][NAME]
    assert server["serverUrl"] == url and "url" not in server
    assert server.get("headers") == ({"Authorization": f"Bearer ${{env:{TOKEN_VAR}}}"} if auth == "tokens" else None)


def check_codex(config, url, transport, auth):
    # Codex: [mcp_servers.NAME] with url (streamable HTTP); the token from the variable that
    # bearer_token_env_var names (an inline bearer_token is refused).
    server = config["mcp_servers"][NAME]
    expected = {"url": url}
    if auth == "tokens":
        expected["bearer_token_env_var"] = TOKEN_VAR
    assert server == expected


def check_gemini(config, url, transport, auth):
    # Gemini CLI: httpUrl is streamable HTTP. A bare url was SSE in its older releases and is
    # streamable HTTP in 0.61 (tests/test_real_clients.py saw it); url with type "sse" is SSE in
    # both, as `gemini mcp add --transport sse` writes it. It expands ${VAR} in settings.json.
    server = config["mcpServers"][NAME]
    if transport == STREAMABLE:
        assert server["httpUrl"] == url and "url" not in server and "type" not in server
    else:
        assert server["url"] == url and server["type"] == "sse" and "httpUrl" not in server
    assert server.get("headers") == ({"Authorization": f"Bearer ${{{TOKEN_VAR}}}"} if auth == "tokens" else None)


def check_zed(config, url, transport, auth):
    # Zed's own remote server (url, headers) speaks streamable HTTP only and sends headers verbatim
    # (no variables: zed-industries/zed#60459); otherwise mcp-remote, which expands ${VAR} from the
    # environment Zed passes on.
    server = config["context_servers"][NAME]
    if transport == STREAMABLE and auth != "tokens":
        assert server == {"url": url}
        return
    assert server["command"] == "npx" and "url" not in server
    args = server["args"]
    assert args[:3] == ["-y", "mcp-remote", url]
    assert args[3:5] == ["--transport", "http-only" if transport == STREAMABLE else "sse-only"]
    assert args[5:] == (["--header", f"Authorization: Bearer ${{{TOKEN_VAR}}}"] if auth == "tokens" else [])


def check_goose(config, url, transport, auth):
    # goose: extensions.NAME of type streamable_http with uri (not url); ${VAR} in headers is
    # filled from the variables env_keys lists.
    extension = config["extensions"][NAME]
    assert extension["type"] == "streamable_http" and extension["uri"] == url and "url" not in extension
    assert extension["name"] == NAME and extension["enabled"] is True
    if auth == "tokens":
        assert extension["env_keys"] == [TOKEN_VAR]
        assert extension["headers"] == {"Authorization": f"Bearer ${{{TOKEN_VAR}}}"}
    else:
        assert extension["env_keys"] == [] and extension["headers"] == {}


def check_continue(config, url, transport, auth):
    # Continue: a block (name, version, schema v1) with a list of servers; headers go under
    # requestOptions; secrets come from its .env files as ${{ secrets.NAME }}.
    assert config["schema"] == "v1" and config["name"] == NAME and "version" in config
    [server] = config["mcpServers"]
    assert server["name"] == NAME and server["type"] == transport and server["url"] == url
    if auth == "tokens":
        assert server["requestOptions"] == {"headers": {"Authorization": f"Bearer ${{{{ secrets.{TOKEN_VAR} }}}}"}}
    else:
        assert "requestOptions" not in server


def check_cline(config, url, transport, auth):
    # Cline: type streamableHttp or sse (a server without a type is taken for SSE); ${env:VAR} in
    # headers.
    server = config["mcpServers"][NAME]
    assert server["type"] == ("streamableHttp" if transport == STREAMABLE else "sse") and server["url"] == url
    assert server.get("headers") == ({"Authorization": f"Bearer ${{env:{TOKEN_VAR}}}"} if auth == "tokens" else None)


def check_librechat(config, url, transport, auth):
    # LibreChat: mcpServers.NAME with type streamable-http or sse; ${VAR} from its .env.
    server = config["mcpServers"][NAME]
    assert server["type"] == transport and server["url"] == url
    assert server.get("headers") == ({"Authorization": f"Bearer ${{{TOKEN_VAR}}}"} if auth == "tokens" else None)
    assert server.get("requiresOAuth", False) == (auth == "oauth")


CHECKS = {
    "windsurf": check_windsurf,
    "codex": check_codex,
    "gemini": check_gemini,
    "zed": check_zed,
    "goose": check_goose,
    "continue": check_continue,
    "cline_mcp_settings": check_cline,
    "librechat": check_librechat,
}


def test_every_client_file_has_its_checks():
    assert {name.split(".")[0] for name in CLIENT_FILES} == CHECKS.keys()


@pytest.mark.parametrize("service", ["null", "yes", "1e3", "0x10"])
def test_a_name_yaml_or_toml_would_read_as_another_type_stays_a_name(copie, nginx_assets, service):
    """The server's name is the image's: each file keys it as that string (YAML would read `null`,
    `yes` or `1e3` as something else unquoted; the token variable starts with a letter)."""
    answers = {**BASE_ANSWERS, **FRONT_ANSWERS, **nginx_assets, "image": f"ghcr.io/acme/{service}"}
    project = render(copie, **answers)
    token_var = render_context(project)["token_env_var"]
    goose = linters.parse_client(project / "clients/goose.config.yaml")["extensions"]
    assert list(goose) == [service] and goose[service]["name"] == service
    assert goose[service]["env_keys"] == [token_var]
    continue_block = linters.parse_client(project / "clients/continue.config.yaml")
    assert continue_block["name"] == service and continue_block["mcpServers"][0]["name"] == service
    assert list(linters.parse_client(project / "clients/librechat.yaml")["mcpServers"]) == [service]
    codex = linters.parse_client(project / "clients/codex.config.toml")["mcp_servers"]
    assert list(codex) == [service] and codex[service]["bearer_token_env_var"] == token_var
