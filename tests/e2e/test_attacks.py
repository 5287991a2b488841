"""The built image attacked as users really run it, on a real engine: nothing reaches a tool without a credential.

The rendered compose file, stack and manifests set what the server checks; these tests go around them:
the image run by hand (`docker run -p`, as a hosting platform or a hand-written manifest would), another
container on the deployment's own network, and the Docker host's loopback to the published port. The
server checks the credential itself whatever is in front of it, and its image's default is the answer
given (tokens here): with no tokens file it refuses to start, saying what to set.

What reached a tool is read from the server's own access log (mcp_serve.py writes a line per request):
a request without a valid credential must never be answered with 2xx (the health check aside).
"""

from __future__ import annotations

import json
import secrets
import tarfile

import httpx
import pytest
from mcp_probe import TOOLS_CALL, list_and_call, raw_tools_call

from .deployment import Combination, deploy
from .ports import free_port
from .test_deployments import answered_calls

pytestmark = pytest.mark.e2e

# Secret-shaped files inside the server's own package (COPY weather_mcp weather_mcp copies it whole).
MARK = f"secret-{secrets.token_hex(8)}"  # found nowhere else in any image
NESTED_SECRETS = {
    "weather_mcp/.env": f"WEATHER_API_KEY={MARK}-1\n",
    "weather_mcp/.env.production": f"WEATHER_API_KEY={MARK}-2\n",
    "weather_mcp/keys/service.key": f"-----BEGIN PRIVATE KEY-----{MARK}-3\n",
    "weather_mcp/certs/client.pem": f"-----BEGIN CERTIFICATE-----{MARK}-4\n",
    "weather_mcp/mcp-tokens/clients.sha256": f"{MARK}-5  someone\n",
}
# A request without a credential, and with the wrong ones, sent to a server (status codes back).
ATTEMPTS = {
    "no credential": None,
    "a token nobody was given": "Bearer " + "0" * 64,
    "the tokens file's hash as a token": None,  # filled in per deployment: the line it can read
    "basic auth": "Basic YWRtaW46YWRtaW4=",
}
# Run inside another container: the same requests, with nothing but the image's own Python.
ATTACKER = """
import json, sys, urllib.request, urllib.error
url, attempts = sys.argv[1], json.loads(sys.argv[2])
call = {"name": "add", "arguments": {"a": 2, "b": 3}}
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}).encode()
statuses = {}
for name, authorization in attempts.items():
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=10) as answer:
            statuses[name] = answer.status
    except urllib.error.HTTPError as error:
        statuses[name] = error.code
print(json.dumps(statuses))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, docker_engine, docker_build_flags, tls_certs):
    """The default answers (bearer tokens, nginx on the Docker host) for an mcp 2.x server repository:
    built, and run by its compose file with a client made as DEPLOYMENT.md says."""
    workdir = tmp_path_factory.mktemp("attacks")
    deployed = deploy(Combination("mcp2_factory", "streamable-http", True), workdir, docker_engine, tls_certs)
    for path, content in NESTED_SECRETS.items():  # beside the code the image copies, as git ignores them
        (deployed.repo / path).parent.mkdir(parents=True, exist_ok=True)
        (deployed.repo / path).write_text(content)
    deployed.build(docker_build_flags)
    deployed.compose_up()
    deployed.wait_health("healthy")
    yield deployed
    deployed.stop()


def attempts(deployment) -> dict[str, str | None]:
    stored = (deployment.repo / "mcp-tokens" / "clients.sha256").read_text().split()[0]
    return {**ATTEMPTS, "the tokens file's hash as a token": f"Bearer {stored}"}


def test_the_image_run_by_hand_with_no_settings_refuses_to_start(deployment, docker_engine, docker_cleanup):
    """`docker run -p` of the image, nothing mounted, nothing set: no server that answers anyone."""
    name = docker_cleanup.container(docker_cleanup.unique("by-hand"))
    port = free_port()
    published = f"127.0.0.1:{port}:{deployment.answers['port']}"  # the port the image listens on
    docker_engine.docker("run", "-d", "--name", name, "-p", published, deployment.image)
    exit_code = docker_engine.docker("wait", name).strip()
    log = deployment.logs(name)
    assert exit_code != "0", log
    assert "MCP_AUTH=tokens, but there is no tokens file at /app/mcp-tokens/clients.sha256" in log, log
    assert "Traceback" not in log and "Serving" not in log
    with pytest.raises(httpx.TransportError):
        httpx.post(f"http://127.0.0.1:{port}/mcp", json=TOOLS_CALL, timeout=5)


def test_the_image_run_by_hand_with_its_tokens_checks_them(deployment, docker_engine, docker_cleanup):
    """Given the tokens file, as a hosting platform would mount it, and nothing else: every tool
    needs a token, on whatever name the host gives it."""
    name = docker_cleanup.container(docker_cleanup.unique("by-hand"))
    port = free_port()
    tokens = f"{deployment.repo / 'mcp-tokens'}:/app/mcp-tokens:ro"
    published = f"127.0.0.1:{port}:{deployment.answers['port']}"
    docker_engine.docker("run", "-d", "--name", name, "-p", published, "-v", tokens, deployment.image)
    deployment.wait_health("healthy", container=name)
    url = f"http://127.0.0.1:{port}/mcp"
    for what, authorization in attempts(deployment).items():
        assert raw_tools_call(url, authorization).status_code == 401, what
    assert answered_calls(deployment.logs(name)) == []
    assert list_and_call(url, "streamable-http", headers=deployment.auth_headers)[1] == "5"
    assert answered_calls(deployment.logs(name)), "the client with a token was not served"


def test_another_container_on_the_network_gets_nothing_without_a_token(deployment, docker_engine):
    """A container on the compose network reaches the server's port directly, not through nginx."""
    networks = docker_engine.docker("inspect", "--format", "{{json .NetworkSettings.Networks}}", deployment.service)
    (network_name,) = json.loads(networks)
    before = answered_calls(deployment.logs())
    url = f"http://{deployment.service}:{deployment.answers['port']}/mcp"
    out = docker_engine.docker(
        "run", "--rm", "--network", network_name, "--entrypoint", "python", deployment.image,
        "-c", ATTACKER, url, json.dumps(attempts(deployment)),
    )  # fmt: skip
    statuses = json.loads(out.strip().splitlines()[-1])
    assert statuses == dict.fromkeys(attempts(deployment), 401), statuses
    assert answered_calls(deployment.logs()) == before


def test_the_hosts_loopback_gets_nothing_without_a_token(deployment):
    """Any user of the Docker host reaches the loopback port the compose file publishes for nginx."""
    before = answered_calls(deployment.logs())
    url = deployment.direct_url
    statuses = {what: raw_tools_call(url, header).status_code for what, header in attempts(deployment).items()}
    assert statuses == dict.fromkeys(attempts(deployment), 401), statuses
    assert answered_calls(deployment.logs()) == before
    # The health check is open, and says nothing: no tool, no name.
    assert httpx.get(url.replace("/mcp", "/healthz"), timeout=5).text == "ok"


def test_no_secret_shaped_file_is_in_the_image(deployment, docker_engine, tmp_path):
    """.env, .env.*, *.pem, *.key and mcp-tokens/ at any depth stay out of the image (the .dockerignore
    patterns a root-only `.env` would miss): not in any layer of `docker save`, by name or content."""
    archive = tmp_path / "image.tar"
    docker_engine.docker("save", "--output", str(archive), deployment.image)
    found = []
    with tarfile.open(archive) as image:
        for member in image.getmembers():
            if not member.name.endswith("layer.tar"):
                continue
            with tarfile.open(fileobj=image.extractfile(member)) as layer:
                for entry in layer.getmembers():
                    name = entry.name.rsplit("/", 1)[-1]
                    data = layer.extractfile(entry).read() if entry.isfile() else b""
                    if name in {".env", ".env.production", "service.key", "client.pem"} or MARK.encode() in data:
                        found.append(entry.name)
    assert found == [], found
    # The package itself is in the image: only the secrets were left out.
    listed = docker_engine.docker("run", "--rm", "--entrypoint", "ls", deployment.image, "-A", "weather_mcp")
    assert "server.py" in listed.split() and ".env" not in listed.split()
