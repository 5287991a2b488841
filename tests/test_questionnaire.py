"""The questionnaire refuses answers that cannot work, with a message naming the question.

Each answer is judged by copier.yml's own checks without Copier (tests/questionnaire.py): seconds
for all of them. A few go through Copier as a user gives them, to show the checks are the ones it runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import render, render_error
from questionnaire import VALID, problems

from extensions import answers
from extensions.deployment import Deployment

# (question, bad answer, words the message must contain)
BAD_ANSWERS = [
    ("server", "", "server: expected MODULE:NAME"),
    ("server", "my-server:mcp", "server: 'my-server' is not an importable module path"),
    ("server", "server:create_server()", "name the function without ()"),
    ("server", "server:class", "server: 'class' is not a Python name"),
    ("server", "mcp:app", "would shadow the 'mcp' module"),
    ("server", "fastmcp.server:app", "would shadow the 'fastmcp' module"),
    # Modules the wiring imports, and Python's own: the server would replace them for everything.
    ("server", "jwt:mcp", "would shadow the 'jwt' module the wiring imports"),
    ("server", "mcp_auth:mcp", "would shadow the 'mcp_auth' module"),
    ("server", "json:mcp", "would shadow Python's own 'json' module"),
    ("server", "logging.handlers:mcp", "would shadow Python's own 'logging' module"),
    ("server", "os:system", "would shadow Python's own 'os' module"),
    ("server", "\uff4dcp:app", "has characters other than ASCII"),  # a full-width m: Python reads it as mcp
    ("server", "/srv/app/server.py:mcp", "server: '/srv/app/server.py' is absolute"),
    ("server", "../server.py:mcp", "leaves the project"),
    ("server", "src/server.py", "names a file but no object"),
    ("server", "tests/server.py:mcp", ".dockerignore pattern 'tests'"),
    ("source_paths", "tools/", "source_paths: expected a YAML list"),
    ("source_paths", [], "source_paths: expected a YAML list of relative paths, with the server's code"),
    ("source_paths", ["tools/"], "none of them holds the server's code (question server: server:mcp)"),
    ("source_paths", ["/etc/passwd"], "is absolute"),
    ("source_paths", ["../shared"], "leaves the project"),
    ("source_paths", ["tools/*.py"], "wildcards"),
    ("source_paths", ["."], "would copy the whole project"),
    ("source_paths", ["tests/"], "kept out of the image by the .dockerignore pattern 'tests'"),
    ("source_paths", ["CHANGES.md"], ".dockerignore pattern '*.md'"),
    ("source_paths", ["tests/data"], ".dockerignore pattern 'tests'"),
    ("source_paths", [".venv/lib"], ".dockerignore pattern '.venv'"),
    ("source_paths", ["--chown=0 x"], "contains spaces"),
    ("source_paths", ["-x"], "starts with '-'"),
    ("source_paths", ["tools", "tools/"], "listed twice"),
    ("system_packages", "git", "system_packages: expected a YAML list"),
    ("system_packages", ["Git"], "system_packages: 'Git' is not a Debian package name"),
    ("system_packages", ["git; rm -rf /"], "is not a Debian package name"),
    ("system_packages", ["git", "git"], "listed twice"),
    ("python_version", "3.9", "python_version: '3.9' is not one of 3.10, 3.11, 3.12, 3.13, 3.14"),
    ("python_version", "3.13.1", "is not one of"),
    ("dockerfile", "Containerfile", "dockerfile: 'Containerfile': expected Dockerfile"),
    ("dockerfile", "Dockerfile.a b", "expected Dockerfile"),
    ("image", "ghcr.io/Acme/App", "image: 'ghcr.io/Acme/App' has uppercase letters"),
    ("image", "ghcr.io/acme/app:1.0", "has a tag"),
    ("image", "ghcr.io:99999/acme/app", "image: the registry's port 99999 is not a port"),
    ("image", "ghcr.io/acme/app@sha256:abc", "has a digest"),
    ("image", "ghcr.io/acme/-app", "not a valid path component"),
    ("image", "ghcr.io", "image: 'ghcr.io' names only a registry"),
    ("env_vars", "API_KEY", "env_vars: expected a YAML list"),
    ("env_vars", ["1API"], "env_vars: '1API' is not a valid variable name"),
    ("env_vars", ["API-KEY"], "is not a valid variable name"),
    ("env_vars", ["MCP_SERVE_PORT"], "env_vars: MCP_SERVE_PORT is set or read by the template itself"),
    ("env_vars", ["CR_PAT"], "set or read by the template itself"),
    # The wiring's own settings: an answer must not switch the credential check off, nor point it elsewhere.
    ("env_vars", ["MCP_AUTH=none"], "env_vars: MCP_AUTH is set or read by the template itself"),
    ("env_vars", ["MCP_OAUTH_ISSUER=https://evil.example/"], "MCP_OAUTH_ISSUER is set or read by the template"),
    ("env_vars", [{"name": "MCP_TOKENS_FILE", "default": "/dev/null"}], "MCP_TOKENS_FILE is set or read"),
    ("env_vars", ["mcp_drain_seconds=0"], "mcp_drain_seconds is set or read by the template itself"),
    ("env_vars", ["A", "A=1"], "env_vars: A is listed twice"),
    ("env_vars", ["GREETING=hello world"], "may not contain spaces"),
    ("env_vars", [{"name": "A", "description": "two\nlines"}], "(U+000A LINE FEED)"),
    ("port", 0, "port: 0 is not a port; expected a whole number from 1 to 65535"),
    ("port", 70000, "port: 70000 is not a port"),
    ("public_host", "https://mcp.example.com", "public_host: 'https://mcp.example.com' is not a bare host name"),
    ("public_host", "mcp.example.com:8443", "not a bare host name"),
    ("public_host", "MCP_host.example", "not a valid lowercase host name"),
    ("url_prefix", "/", "url_prefix: expected a path"),
    ("url_prefix", "my mcp", "url_prefix: 'my mcp' has characters"),
    ("url_prefix", ".well-known", "reserved"),
    ("https_port", 70000, "https_port: 70000 is not a port"),
    ("http_port", 443, "http_port: must differ from https_port"),
    ("https_port", 8000, "https_port: 8000 is also the container's port (question port)"),
    ("http_port", 8000, "http_port: 8000 is also the container's port (question port)"),
    ("image", "ghcr.io/acme/app\n", "is not a valid path component"),
    ("image", "ghcr.io/acme/x", "Docker wants 2 characters or more"),
    ("ssl_certificate", "/etc/ssl/a\x00b.pem", "contains an invisible or control character (U+0000 NUL)"),
    ("source_paths", ["server.py\x1b[31m"], "source_paths: 'server.py\\x1b[31m' contains an invisible"),
    ("env_vars", ["GREETING=hi\x00"], "env_vars: 'GREETING=hi\\x00' contains an invisible"),
    ("url_prefix", "\nweather", "url_prefix: '\\nweather' has characters"),
    ("image", "ghcr.io/acme/" + "a" * 101, "at most 100 characters"),
    ("public_host", "mcp.example.com\n", "not a valid lowercase host name"),
    ("private_deps_host", "github.com:", "is not a bare host name"),
    ("private_deps_host", "github.com\n", "not a valid lowercase host name"),
    ("platform", "linux/amd64\n", "is not a platform"),
    ("ssl_certificate", "certs/fullchain.pem", "ssl_certificate: 'certs/fullchain.pem' is not an absolute path"),
    ("ssl_certificate_key", "/etc/ssl/key.pem; include /etc/passwd", "would read as syntax; expected a plain"),
    ("private_deps_host", "https://github.com", "private_deps_host: 'https://github.com' is not a bare host name"),
    ("private_deps_host", "git.example.com:99999", "private_deps_host: 99999 is not a port"),
    ("platform", "amd64", "platform: 'amd64' is not a platform"),
    ("platform", "linux/amd64,", "or several separated by commas"),
    ("platform", "linux/amd64, linux/arm64", "is not a platform"),
    ("platform", "linux/arm64,linux/arm64", "platform: 'linux/arm64,linux/arm64' names a platform twice"),
    ("oauth_issuer", "http://auth.example.com/", "oauth_issuer: 'http://auth.example.com/' is not an https:// URL"),
    ("oauth_issuer", "auth.example.com", "oauth_issuer: 'auth.example.com' is not an https:// URL"),
    ("oauth_issuer", "https://auth.example.com/?tenant=1", "has characters this URL cannot carry"),
    ("oauth_issuer", "https://auth.example.com/${TENANT}/", "has characters this URL cannot carry"),
    ("oauth_issuer", "https://user:pw@auth.example.com/", "must have no user, query or fragment"),
    ("oauth_resource", "https://mcp.example.com/", "oauth_resource: 'https://mcp.example.com/' must end in /mcp"),
    ("oauth_resource", "https://mcp.example.com:0/mcp", "has no valid port"),
    ("oauth_resource", "ftp://mcp.example.com/mcp", "is not an https:// URL"),
    ("oauth_scopes", "mcp:tools", "oauth_scopes: expected a YAML list of scopes"),
    ("oauth_scopes", ["mcp tools"], "oauth_scopes: 'mcp tools' is not a scope"),
    ("oauth_scopes", ['mcp"tools'], "is not a scope"),
    ("oauth_scopes", ["read", "read"], "a scope is listed twice"),
    ("oauth_scopes", ["-mcp:tools"], "oauth_scopes: '-mcp:tools' is not a scope"),
    ("replicas", 0, "replicas: 0 is not a number of replicas; expected a whole number from 1 to 100"),
    ("replicas", 101, "replicas: 101 is not a number of replicas"),
    ("calls_per_second", -1, "calls_per_second: -1 is not a rate; expected a whole number of requests a second"),
    ("calls_per_second", 10001, "calls_per_second: 10001 is not a rate"),
    # The official MCP Registry's rules (tests/test_mcp_registry.py renders and validates the file).
    ("mcp_registry_name", "com.example.mcp/weather mcp", "is not a registry name"),
    ("mcp_registry_name", "com.example.mcp/a/b", "expected NAMESPACE/NAME"),
    ("mcp_registry_name", "-com.example.mcp/weather", "is not a registry name"),
    ("mcp_registry_name", "com.example/weather-mcp", "lets you publish under com.example.mcp/ only"),
    ("mcp_registry_description", "", "expected one line of 1 to 100 characters"),
    ("mcp_registry_description", "Weather\nforecasts", "(U+000A LINE FEED)"),
    ("mcp_registry_key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "expected the base64 Ed25519 public key"),
    (
        "mcp_registry",
        "domain",
        "mcp_registry: the registry reads https://HOST/.well-known/mcp-registry-auth on port 443",
    ),
]

NEEDS = {
    "public_host": {"use_nginx": True},
    "url_prefix": {"use_nginx": True},
    "https_port": {"use_nginx": True},
    "http_port": {"use_nginx": True},
    "ssl_certificate": {"use_nginx": True},
    "ssl_certificate_key": {"use_nginx": True},
    "calls_per_second": {"use_nginx": True},
    "private_deps_host": {"private_deps": True},
    "oauth_issuer": {"auth": "oauth"},
    "oauth_resource": {"auth": "oauth", "use_nginx": False},
    "oauth_scopes": {"auth": "oauth"},
    "replicas": {"orchestrator": "kubernetes"},
    "mcp_registry": {"https_port": 8443},
    "mcp_registry_name": {"mcp_registry": "domain"},
}


@pytest.mark.parametrize(("question", "bad", "message"), BAD_ANSWERS, ids=[f"{q}={b!r}" for q, b, _ in BAD_ANSWERS])
def test_bad_answer_is_refused_with_its_message(question, bad, message):
    found = problems({**VALID, **NEEDS.get(question, {}), question: bad})
    assert [problem for problem in found if problem.startswith(f"{question}:") and message in problem], found


@pytest.mark.parametrize(
    ("question", "bad", "message"),
    [BAD_ANSWERS[1], ("port", 0, "port: 0 is not a port"), ("env_vars", ["MCP_AUTH=none"], "MCP_AUTH is set or read")],
    ids=["server", "port", "env_vars"],
)
def test_copier_refuses_a_bad_answer_with_the_same_message(copie, question, bad, message):
    """The same checks, as Copier runs them for a user's answer."""
    error = render_error(copie, **NEEDS.get(question, {}), **{question: bad})
    assert f"question '{question}'" in error and message in error


def test_an_ingress_host_must_be_a_name():
    """An Ingress rule's host is a DNS name: the Kubernetes API refuses an address there (nginx takes one)."""
    answers = {**VALID, "orchestrator": "kubernetes", "public_host": "10.0.0.5"}
    refused = "public_host: '10.0.0.5' is an IP address; an Ingress needs a DNS name"
    assert [problem for problem in problems(answers) if problem.startswith(refused)]
    assert problems({**answers, "orchestrator": "compose"}) == []


def test_the_answers_are_checked_against_the_project_they_are_for(tmp_path):
    """What the image is built from must be in the project: the dependency file, the paths it copies,
    a Dockerfile of the template's own; a new project's example server is written after the questions."""
    existing = {
        "found_server": True,
        "existing_project": True,
        "new_project": False,
        "root": str(tmp_path),
        "dockerfile": "Dockerfile.mcp",
    }
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'w'\n")
    (tmp_path / "server.py").write_text("")
    (tmp_path / "Dockerfile").write_text("FROM python:3.13-slim\n")
    answers = {**VALID, "source_paths": ["server.py"], "dependencies": "pyproject.toml", "dockerfile": "Dockerfile.mcp"}
    assert problems(answers, existing) == []
    assert problems({**answers, "dependencies": "uv.lock"}, existing) == [
        "dependencies: uv.lock needs uv.lock, which this project does not have; expected the file it keeps its"
        " dependencies in (a new project: requirements.txt, which is made for it)"
    ]
    assert problems({**answers, "dependencies": "requirements.txt"}, existing)[0].startswith(
        "dependencies: this project has no requirements.txt but a pyproject.toml"
    )
    assert problems({**answers, "source_paths": ["server.py", "tools/"]}, existing) == [
        "source_paths: 'tools' is not in this project, so the image build would fail; expected what is"
    ]
    # The user's own Dockerfile is left alone: the template's cannot take its name.
    assert problems({**answers, "dockerfile": "Dockerfile"}, existing)[0].startswith(
        "dockerfile: this project has a Dockerfile of its own"
    )
    # A new project: requirements.txt is made for it, and its example server goes where `server` says.
    new = {
        "found_server": False,
        "existing_project": False,
        "new_project": True,
        "root": str(tmp_path / "new"),
        "dockerfile": "Dockerfile",
    }
    fresh = {**VALID, "server": "weather.server:mcp", "source_paths": ["weather"], "dependencies": "requirements.txt"}
    assert problems(fresh, new) == []
    assert (
        "server: 'weather' names a module to run, but this folder has no server yet: a new project's example"
        " server needs MODULE:NAME, e.g. server:mcp"
    ) in problems({**fresh, "server": "weather"}, new)
    assert problems({**fresh, "dependencies": "pyproject.toml"}, new)[0].startswith(
        "dependencies: pyproject.toml needs pyproject.toml"
    )
    # A project whose dependencies name its SDK, where the reading found no server: never an example
    # server in it, and no default to take; the copy stops asking for the one answer.
    unread = {**new, "new_project": False, "existing_project": True, "sdk_dependency": "mcp", "root": str(tmp_path)}
    assert problems({**answers, "server": ""}, unread)[0].startswith(
        "server: your dependencies name mcp, but no server was found in your code; name it (--data server=...)"
    )
    assert problems(answers, unread) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"orchestrator": "kubernetes", "use_nginx": "true"}, "use_nginx: does not apply with orchestrator=kubernetes"),
        ({"orchestrator": "swarm", "use_nginx": "false"}, "use_nginx: does not apply with orchestrator=swarm"),
        ({"use_nginx": "maybe"}, "use_nginx: 'maybe' is not true or false"),
        ({"auth": "tokens", "oauth_issuer": "https://evil.example/"}, "oauth_issuer: does not apply with auth=tokens"),
        (
            {"use_nginx": "false", "url_prefix": "x"},
            "url_prefix: does not apply with orchestrator=compose, use_nginx=False",
        ),
        ({"orchestrator": "compose", "replicas": "3"}, "replicas: does not apply with orchestrator=compose"),
        (
            {"use_nginx": "false", "mcp_registry": "github"},
            "mcp_registry: does not apply with orchestrator=compose, use_nginx=False",
        ),
    ],
    ids=[
        "nginx-on-kubernetes",
        "no-nginx-on-swarm",
        "maybe",
        "issuer-without-oauth",
        "prefix-without-nginx",
        "replicas",
        "registry-without-a-public-url",
    ],
)
def test_an_answer_to_a_question_that_does_not_apply_is_refused(tmp_path, data, message):
    """Copier would keep an answer given with --data to a question its when: hides, and the files would
    half-use it (nginx's MCP_AUTH behind an Ingress); it is refused before anything is written."""
    destination = tmp_path / "project"
    options = [argument for name, value in data.items() for argument in ("--data", f"{name}={value}")]
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD", *options]
        + [str(Path(__file__).resolve().parent.parent), str(destination)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    assert not destination.exists() or not any(destination.iterdir())


def test_sse_replicas_on_swarm_are_taken(copie):
    """A session's requests that reach another replica are passed on to its own (mcp_sessions.py),
    so SSE takes several replicas on Swarm as streamable-http does."""
    project = render(copie, orchestrator="swarm", transport="sse")
    assert "replicas: 2\n" in (project / ".copier-answers.mcp-docker.yml").read_text()
    assert "replicas: 2" in (project / "docker-stack.yaml").read_text()


def test_sessions_are_asked_for_streamable_http_only(copie):
    project = render(copie, transport="sse")
    assert "sessions:" not in (project / ".copier-answers.mcp-docker.yml").read_text()
    project = render(copie, sessions="stateful")
    assert "sessions: stateful" in (project / ".copier-answers.mcp-docker.yml").read_text()
    assert "STATELESS_HTTP = False" in (project / "mcp_serve.py").read_text()
    assert "STATELESS_HTTP = True" in (render(copie) / "mcp_serve.py").read_text()


def test_refused_answer_writes_nothing(copie, tmp_path):
    result = copie.copy(extra_answers={"port": 0})
    assert result.exit_code != 0
    written = [p for p in (copie.test_dir / "copie000").rglob("*")]
    assert written == []


GOOD_ANSWERS = [
    ("server", "server:mcp"),
    ("server", "weather.server:create_server"),
    ("server", "src/weather/server.py:app"),
    ("server", "mcp_server_time"),
    ("server", "mcp_server_time:main"),
    ("source_paths", ["src/weather", "./models", "formatting.py", "lib/helpers.py", "README.md", "server.py"]),
    ("system_packages", ["git", "ffmpeg", "libpq5=15.10-0+deb12u1"]),
    ("python_version", "3.12"),
    ("dockerfile", "Dockerfile.mcp"),
    ("image", "localhost:5000/acme/app"),
    ("image", "acme/app"),
    ("image", "registry.gitlab.com/acme/group/sub_project"),
    ("env_vars", ["API_KEY", "LOG_LEVEL=info", "EMPTY=", {"name": "URL", "default": "https://x.example/a?b=c"}]),
    ("url_prefix", "/tools/my-mcp/"),
    ("port", 65535),
    ("private_deps_host", "git.example.com:8443"),
    ("auth", "none"),
    ("oauth_issuer", "https://login.microsoftonline.com/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab/v2.0"),
    ("oauth_issuer", "https://sso.example.com/realms/main"),
    ("oauth_issuer", "http://localhost:8080/realms/dev"),
    ("oauth_resource", "https://gateway.example.com:8443/teams/weather/mcp"),
    ("oauth_scopes", ["mcp:tools", "api://0f1e2d3c-aaaa/weather.read", "https://x.example.com/scope"]),
    ("replicas", 1),
    ("orchestrator", "kubernetes"),
    ("orchestrator", "swarm"),
    ("replicas", 100),
    ("platform", "linux/amd64,linux/arm64,linux/arm/v7"),
    ("github_workflow", False),
]


@pytest.mark.parametrize(("question", "good"), GOOD_ANSWERS, ids=[f"{q}={g!r}" for q, g in GOOD_ANSWERS])
def test_good_answer_is_accepted(question, good):
    given = {**VALID, **NEEDS.get(question, {}), question: good}
    if question == "server":  # what Copier then offers as source_paths: the server's module or package
        given["source_paths"] = answers.default_source_paths(good)
    assert problems(given) == []


def test_the_github_workflow_is_on_by_default_only_for_ghcr(copie):
    assert (render(copie, image="ghcr.io/acme/weather-mcp") / ".github/workflows/mcp-image.yml").is_file()
    elsewhere = render(copie, image="registry.gitlab.com/acme/weather-mcp")
    assert not (elsewhere / ".github").exists() and not (elsewhere / "renovate.json").exists()


def test_defaults_follow_the_answers(copie):
    lowlevel = render(copie, sdk="mcp1-lowlevel", image="ghcr.io/acme/Weather-MCP".lower())
    recorded = (lowlevel / ".copier-answers.mcp-docker.yml").read_text()
    assert "server: server:app" in recorded
    assert "url_prefix: weather-mcp" in recorded
    assert "/etc/letsencrypt/live/mcp.example.com/fullchain.pem" in recorded


@pytest.mark.parametrize(
    ("service", "token_var"),
    [("weather-mcp", "WEATHER_MCP_TOKEN"), ("weather", "WEATHER_MCP_TOKEN"), ("a.b__c", "A_B_C_MCP_TOKEN")],
)
def test_token_variable_name(service, token_var):
    deployment = Deployment(
        {"image": f"ghcr.io/acme/{service}", "transport": "sse", "sdk": "mcp1-fastmcp", "port": 8000, "auth": "tokens"}
    )
    assert deployment.token_env_var == token_var


def test_default_image_is_named_after_the_destination_folder(tmp_path, monkeypatch):
    project = tmp_path / "Weather Server"
    project.mkdir()
    monkeypatch.chdir(project)
    assert answers.default_image_name(".") == "weather-server"
    assert answers.default_image_name(project) == "weather-server"


def test_unknown_choice_or_type_on_the_command_line_gets_a_message_not_a_traceback(tmp_path):
    """Copier itself answers these with a traceback; the template says what is wrong first."""
    destination = tmp_path / "project"
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref=HEAD"]
        + [
            "--data",
            "sdk=mcp3-fastmcp",
            "--data",
            "port=abc",
            str(Path(__file__).resolve().parent.parent),
            str(destination),
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "sdk: 'mcp3-fastmcp' is not one of mcp2-mcpserver, mcp2-lowlevel, fastmcp" in result.stderr
    assert "port: 'abc' is not a whole number" in result.stderr
    assert not destination.exists()


# What published servers read from the environment for themselves (their own transport switches, the
# settings of the SDKs and servers they are built on): the wiring must set none of them, or a server
# that refuses the value the wiring sets never starts (tests/fixtures/env_collision).
NAMES_SERVERS_READ = {
    "MCP_TRANSPORT", "MCP_HOST", "MCP_PORT", "TRANSPORT", "HOST", "PORT",
    "FASTMCP_TRANSPORT", "FASTMCP_HOST", "FASTMCP_PORT", "FASTMCP_LOG_LEVEL",
    "UVICORN_HOST", "UVICORN_PORT", "LOG_LEVEL", "DEBUG",
}  # fmt: skip


def test_the_wirings_variables_are_not_names_servers_read_for_themselves():
    from extensions.deployment import RESERVED_ENV_VARS

    assert not NAMES_SERVERS_READ & set(RESERVED_ENV_VARS)
    assert {"MCP_SERVE_TRANSPORT", "MCP_SERVE_HOST", "MCP_SERVE_PORT"} <= set(RESERVED_ENV_VARS)
