"""server.json for the official MCP Registry, the domain proof nginx serves, and the workflow job that
publishes it.

The rendered server.json is held to the registry's own schema (version 2025-12-11, kept in
tests/mcp_registry with its source) and to the rules its validators add to the schema
(modelcontextprotocol/registry internal/validators/validators.go, and the namespace each login grants,
internal/api/handlers/v0/auth): across transports, credentials, fronts and both kinds of login. The
domain proof is served by Debian's nginx running the rendered configuration, with a key pair made by
DEPLOYMENT.md's own openssl commands, and checked as the registry checks it (the format its regular
expression reads, and an Ed25519 signature of a timestamp made with the private key). The workflow
job passes actionlint, zizmor and shellcheck. Nothing here reaches the registry itself: publishing
needs a GitHub login or a public domain.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import jsonschema
import linters
import pytest
from answer_sets import AUTHS, BASE_ANSWERS, FRONT_ANSWERS, OAUTH_ANSWERS, TRANSPORTS, render_context
from conftest import render
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from e2e.certs import make_certs
from e2e.nginx import Nginx
from e2e.ports import free_ports

SCHEMA = json.loads((Path(__file__).parent / "mcp_registry/server.schema.2025-12-11.json").read_text())
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
# The registry's own rules beyond the schema (internal/validators/validators.go).
NAMESPACE = r"[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9]"
NAME_PART = r"[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]"
VERSION_RANGE = re.compile(r"^\s*(?:\^|~|>=|<=|>|<|=)|\s-\s|\|\||(?:^|\.)[xX*](?:\.|$)")
# What the registry reads from https://DOMAIN/.well-known/mcp-registry-auth (auth/common.go).
PROOF = re.compile(r"v=MCPv1;\s*k=([^;]+);\s*p=([A-Za-z0-9+/=]+)")
# A key, for renders that are not served.
SOME_KEY = base64.b64encode(bytes(range(32))).decode()

# Where a public https:// URL comes from: nginx on the Docker host, a Swarm stack's nginx, an Ingress,
# or (served directly) the OAuth resource the user gave.
FRONTS = {
    "host-nginx": {"orchestrator": "compose", "use_nginx": True, **FRONT_ANSWERS},
    "stack-nginx": {"orchestrator": "swarm", "replicas": 2, **FRONT_ANSWERS},
    "ingress": {"orchestrator": "kubernetes", "replicas": 2, "public_host": "mcp.example.com"},
}


def registry_answers(kind: str, front: str, transport: str, auth: str, nginx_assets: dict) -> dict:
    answers = {**BASE_ANSWERS, "transport": transport, "auth": auth, "mcp_registry": kind}
    if front == "direct":
        answers |= {"use_nginx": False}
    else:
        answers |= FRONTS[front]
    if front in ("host-nginx", "stack-nginx"):
        answers |= nginx_assets
    if auth == "oauth":
        answers |= OAUTH_ANSWERS
        if front == "direct":
            answers["oauth_resource"] = (
                f"https://mcp.acme.dev/weather{'/mcp' if transport == 'streamable-http' else '/sse'}"
            )
    if kind == "github":
        answers["mcp_registry_name"] = "io.github.acme/weather-mcp"
    if kind == "domain":
        answers["mcp_registry_key"] = SOME_KEY
    return answers


def check_registry_rules(entry: dict, kind: str, url: str, auth: str) -> None:
    """What the registry refuses besides the schema, and what the login allows."""
    namespace, name = entry["name"].split("/")
    assert re.fullmatch(NAMESPACE, namespace) and re.fullmatch(NAME_PART, name), entry["name"]
    assert entry["version"] != "latest" and not VERSION_RANGE.search(entry["version"])
    assert 1 <= len(entry["description"]) <= 100
    [remote] = entry["remotes"]
    parts = urlsplit(remote["url"])
    # Remotes: https, never localhost (utils.go IsValidRemoteURL).
    assert parts.scheme == "https" and parts.hostname not in ("localhost", "127.0.0.1")
    assert remote["url"] == url
    if kind == "github":
        assert namespace == "io.github.acme"
    else:
        # HTTP auth grants the domain reversed, not its subdomains; an older rule also wanted the
        # remote on that domain.
        assert namespace == ".".join(reversed(parts.hostname.split(".")))
    if auth == "tokens":
        [header] = remote["headers"]
        assert header["name"] == "Authorization" and header["isSecret"] is True and header["isRequired"] is True
        assert header["value"] == "Bearer {token}" and header["variables"]["token"]["isSecret"] is True
    else:
        assert "headers" not in remote  # OAuth: found from the 401; none: nothing to send


CASES = [
    *((kind, front, t, a) for kind, front in [("github", f) for f in FRONTS] for t in TRANSPORTS for a in AUTHS),
    *(("domain", front, t, a) for front in ("host-nginx", "stack-nginx") for t in TRANSPORTS for a in AUTHS),
    *(("github", "direct", t, "oauth") for t in TRANSPORTS),
]


@pytest.mark.parametrize(("kind", "front", "transport", "auth"), CASES, ids=["-".join(case) for case in CASES])
def test_server_json_passes_the_registrys_schema_and_rules(copie, nginx_assets, kind, front, transport, auth):
    project = render(copie, **registry_answers(kind, front, transport, auth, nginx_assets))
    entry = json.loads((project / "server.json").read_text())
    assert entry["$schema"] == SCHEMA_URL == SCHEMA["$id"]
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(entry)
    assert entry["remotes"][0]["type"] == transport
    check_registry_rules(entry, kind, render_context(project)["public_url"], auth)
    docs = (project / "DEPLOYMENT.md").read_text()
    assert "## Registries" in docs and f"`{entry['name']}`" in docs
    nginx_conf = project / "nginx/weather-mcp.conf"
    if nginx_conf.exists():
        has_proof = "location = /.well-known/mcp-registry-auth" in nginx_conf.read_text()
        assert has_proof == (kind == "domain")


def test_the_schema_refuses_what_the_registry_refuses():
    """The vendored schema is the registry's: it refuses a long description, a bad name, "latest"."""
    good = {"$schema": SCHEMA_URL, "name": "io.github.acme/w", "description": "d", "version": "1.0.0"}
    validator = jsonschema.Draft7Validator(SCHEMA)
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({**good, "description": "d" * 101}))
    assert list(validator.iter_errors({**good, "name": "acme weather"}))
    assert list(validator.iter_errors({**good, "remotes": [{"type": "stdio", "url": "https://x.example/mcp"}]}))


def test_no_listing_unless_asked(copie, nginx_assets):
    """The default is no listing (entries are public), and a server without a public https URL is
    not asked."""
    project = render(copie, **BASE_ANSWERS, **FRONT_ANSWERS, **nginx_assets)
    assert not (project / "server.json").exists()
    assert "registry" not in (project / ".github/workflows/mcp-image.yml").read_text().split("jobs:")[1]
    assert "mcp-registry-auth" not in (project / "nginx/weather-mcp.conf").read_text()
    # Served directly with tokens, the URL is http://localhost:PORT: nothing to list (and --data
    # mcp_registry=... is refused there: tests/test_questionnaire.py).
    direct = render(copie, **BASE_ANSWERS, use_nginx=False)
    assert not (direct / "server.json").exists()
    assert "mcp_registry" not in (direct / ".copier-answers.mcp-docker.yml").read_text()


def documented_key_commands(docs: str) -> list[str]:
    """DEPLOYMENT.md's openssl lines for the registry's key pair."""
    section = docs.split("## Registries", 1)[1]
    return [line.split("  #")[0] for line in section.splitlines() if line.startswith("openssl ")]


def test_nginx_serves_the_key_the_registry_checks(copie, tmp_path):
    """A key pair made by DEPLOYMENT.md's commands; its public key answered; the rendered nginx (Debian's)
    serves the proof over HTTPS; a login signed with the private key verifies against what it served."""
    # The commands need a project's DEPLOYMENT.md: one rendered with any key first.
    first = render(copie, **registry_answers("domain", "host-nginx", "streamable-http", "tokens", {}))
    commands = documented_key_commands((first / "DEPLOYMENT.md").read_text())
    assert len(commands) == 3 and commands[0].startswith("openssl genpkey -algorithm ed25519")
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    outputs = [
        subprocess.run(
            ["sh", "-c", command],
            env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for command in commands
    ]
    public_key, private_hex = outputs[1], outputs[2]
    assert re.fullmatch(r"[0-9a-f]{64}", private_hex), private_hex
    private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex))
    assert base64.b64encode(private.public_key().public_bytes_raw()).decode() == public_key

    tls = make_certs(tmp_path / "tls", ("mcp.example.com", "localhost", "127.0.0.1"))
    port, https_port, http_port = free_ports(3)
    answers = registry_answers("domain", "host-nginx", "streamable-http", "tokens", {})
    answers |= {"mcp_registry_key": public_key, "ssl_certificate": str(tls.cert_chain)}
    answers |= {"ssl_certificate_key": str(tls.private_key), "port": port, "http_port": http_port}
    project = render(copie, **answers)
    # The registry asks on 443 (the answer must be 443); this test's nginx listens on a free port instead.
    conf = tmp_path / "weather-mcp.conf"
    text = (project / "nginx/weather-mcp.conf").read_text()
    assert text.count("listen 443 ssl;") == 1 and text.count("listen [::]:443 ssl;") == 1
    conf.write_text(text.replace(" 443 ssl;", f" {https_port} ssl;"))
    nginx = Nginx(tmp_path / "nginx", conf)
    nginx.start(wait_ports=(https_port,))
    try:
        # As the registry asks (auth/http.go): GET, Accept text/plain, redirects not followed.
        response = httpx.get(
            f"https://localhost:{https_port}/.well-known/mcp-registry-auth",
            headers={"Accept": "text/plain", "Host": "mcp.example.com"},
            verify=tls.ssl_context(),
            follow_redirects=False,
        )
        other = httpx.get(f"https://localhost:{https_port}/.well-known/mcp-registry-authx", verify=tls.ssl_context())
    finally:
        nginx.stop()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    assert len(response.content) <= 4096
    algorithm, served = PROOF.search(response.text.strip()).groups()
    assert algorithm == "ed25519" and served == public_key
    # The registry's check: the login's timestamp, signed with the private key, verifies.
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    Ed25519PublicKey.from_public_bytes(base64.b64decode(served)).verify(private.sign(timestamp), timestamp)
    assert other.status_code != 200  # an exact location, nothing else under the name


@pytest.mark.parametrize(
    ("answer", "value", "message"),
    [
        ("mcp_registry_name", "io.github.acme/weather mcp", "is not a registry name"),
        ("mcp_registry_name", "io.github.your-github-user/weather-mcp", "name your GitHub user"),
        ("mcp_registry_name", "com.acme/weather-mcp", "a GitHub login publishes under io.github.OWNER/"),
        ("mcp_registry_description", "x" * 101, "1 to 100 characters"),
    ],
)
def test_the_questionnaire_refuses_a_name_the_registry_would(copie, nginx_assets, answer, value, message):
    answers = {**registry_answers("github", "host-nginx", "streamable-http", "tokens", nginx_assets), answer: value}
    result = copie.copy(extra_answers=answers)
    assert result.exit_code != 0 and message in str(result.exception)


def test_domain_proof_needs_nginx_on_443_and_the_host_reversed(copie, nginx_assets):
    base = registry_answers("domain", "host-nginx", "streamable-http", "tokens", nginx_assets)
    refusals = {
        "the key": {**base, "mcp_registry_key": "not-a-key"},
        "port 443": {**base, "https_port": 8443},
        "subdomain": {**base, "mcp_registry_name": "com.example/weather-mcp"},
        "an Ingress": {**registry_answers("domain", "ingress", "streamable-http", "tokens", {})},
    }
    messages = {
        "the key": "mcp_registry_key: 'not-a-key': expected the base64 Ed25519 public key",
        "port 443": "nginx serves HTTPS on 8443",
        "subdomain": "lets you publish under com.example.mcp/ only",
        "an Ingress": "domain needs this template's nginx",
    }
    for case, answers in refusals.items():
        result = copie.copy(extra_answers=answers)
        assert result.exit_code != 0 and messages[case] in str(result.exception), case


def test_the_workflow_publishes_on_a_tag_with_a_pinned_publisher(copie, nginx_assets, tmp_path):
    """Both logins, on GHCR and elsewhere: actionlint, zizmor (pedantic) and shellcheck find nothing; the
    job runs after the image's, installs mcp-publisher only after its checksum, sets the tag's version."""
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    for number, (kind, image) in enumerate(itertools.product(("github", "domain"), ("ghcr.io/acme", "docker.io/acme"))):
        answers = registry_answers(kind, "host-nginx", "streamable-http", "tokens", nginx_assets)
        project = render(copie, **{**answers, "image": f"{image}/weather-mcp", "github_workflow": True})
        workflow_file = project / ".github/workflows/mcp-image.yml"
        linters.workflow_schema(workflow_file)
        job = linters.load_workflow(workflow_file)["jobs"]["registry"]
        assert job["needs"] == "publish" and job["if"] == "startsWith(github.ref, 'refs/tags/v')"
        expected = {"contents": "read", "id-token": "write"} if kind == "github" else {"contents": "read"}
        assert job["permissions"] == expected
        runs = [step.get("run", "") for step in job["steps"]]
        install = runs[1]
        assert install.index("sha256sum --check --strict") < install.index("tar -xzf")
        assert re.fullmatch(r"\d+\.\d+\.\d+", job["steps"][1]["env"]["MCP_PUBLISHER_VERSION"])
        assert re.fullmatch(r"[0-9a-f]{64}", job["steps"][1]["env"]["MCP_PUBLISHER_SHA256"])
        assert ".version = $version" in runs[2] and '"${GITHUB_REF_NAME#v}"' in runs[2]
        login = "./mcp-publisher login github-oidc" if kind == "github" else "./mcp-publisher login http --domain"
        assert login in runs[3] and runs[3].rstrip().endswith("./mcp-publisher publish server.json")
        assert all("${{" not in run for run in runs)
        shutil.copy(workflow_file, workflows / f"variant-{number}.yml")
        for run in runs:
            if run:
                linters.shellcheck_text(run, shell="bash")
    files = sorted(workflows.iterdir())
    assert linters.actionlint(*files) == []
    assert linters.zizmor(*files) == ""
