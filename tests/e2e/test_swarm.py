"""The Swarm stack, deployed with its own scripts on a real single-node Swarm and kept under load.

One stack for the module: an mcp 2.x server repository (a factory function, pyproject.toml) with
the template applied for Swarm, 3 replicas, streamable-http, the bearer tokens checked by the
stack's nginx with TLS. Its image is published to a real local registry by build-publish.sh and
deployed by deploy-stack.sh; the tokens are made with DEPLOYMENT.md's commands. Ten clients call
a tool without pause while a replica is killed and while the stack rolls to a new image.

Stand-ins (no registry can be pulled from here): the image's base is the local python:3.13-slim
stand-in, and the stack's nginx:1.30 is Debian's nginx 1.30 imported under that name
(tests/e2e/nginx_image.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from fixture_repos import DATA, apply_template, checkout_fixture

from .deployment import ENV_VALUES
from .load import Load
from .nginx_image import ensure_nginx_image
from .ports import free_ports
from .swarm import Stack, swarm_mode

pytestmark = pytest.mark.e2e

FIXTURE = "mcp2_factory"
REPLICAS = 3
CLIENTS = 10


def documented_token_commands(repo) -> str:
    """The token lines of DEPLOYMENT.md's "nginx and HTTPS" block, as printed (sudo aside: the tests run as root)."""
    section = (repo / "DEPLOYMENT.md").read_text().split("## nginx and HTTPS", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if "tokens" in line and "Bearer" in line or "install -D" in line]
    assert len(lines) == 2, block
    return "\n".join(line.replace("sudo ", "") for line in lines) + "\n"


@pytest.fixture(scope="module")
def stack(docker_engine, base_image, registry, tls_certs, tmp_path_factory):
    """The stack, deployed and healthy; its URL, token and project."""
    ensure_nginx_image(docker_engine)
    workdir = tmp_path_factory.mktemp("swarm")
    repo = checkout_fixture(FIXTURE, workdir / "repo")
    https_port, http_port = free_ports(2)
    name = f"e2e-swarm-{uuid.uuid4().hex[:6]}"
    answers = {
        **DATA.get(FIXTURE, {}),
        "orchestrator": "swarm",
        "replicas": REPLICAS,
        "transport": "streamable-http",
        "image": f"{registry.address}/e2e/{name}",
        "public_host": "localhost",
        "url_prefix": "tools/weather",
        "https_port": https_port,
        "http_port": http_port,
        "ssl_certificate": str(tls_certs.cert_chain),
        "ssl_certificate_key": str(tls_certs.private_key),
        "tokens_file": str(workdir / "nginx-tokens" / f"{name}.map"),
    }
    apply_template(repo, **answers)
    # The token, made as DEPLOYMENT.md says, read back from the file it went to.
    subprocess.run(
        ["sh", "-eu"], input=documented_token_commands(repo), cwd=repo, check=True, capture_output=True, text=True
    )
    token = re.search(r"Bearer ([0-9a-f]{64})\$", (workdir / "nginx-tokens" / f"{name}.map").read_text())[1]
    (repo / ".env").write_text(
        "".join(
            f"{line.split('=', 1)[0]}={ENV_VALUES[line.split('=', 1)[0]]}\n"
            if line.split("=", 1)[0] in ENV_VALUES
            else line + "\n"
            for line in (repo / "example.env").read_text().splitlines()
        )
    )
    with swarm_mode(docker_engine):
        # The stack's default name is the image's: the one asked for here.
        deployed = Stack(repo, name, docker_engine)
        try:
            published = deployed.script("build-publish.sh")
            assert published.returncode == 0, published.stdout + published.stderr
            assert "Deployed" in deployed.deploy()  # VERSION says 1
            deployed.wait_replicas(REPLICAS, image_tag="1")
            url = f"https://localhost:{https_port}/tools/weather/mcp"
            wait_answering(url, token, tls_certs)
            yield deployed, url, token
        finally:
            deployed.remove()
            for tag in ("1", "2", "latest"):
                docker_engine.docker.run(["image", "rm", "-f", f"{answers['image']}:{tag}"], retcode=None)


def wait_answering(url: str, token: str, tls_certs, timeout: float = 60) -> None:
    """Until the stack's nginx answers a call with the token (it starts apart from the replicas)."""
    from mcp_probe import raw_tools_call

    deadline = time.monotonic() + timeout
    while True:
        try:
            if raw_tools_call(url, f"Bearer {token}", verify=str(tls_certs.ca_bundle)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the stack's nginx does not answer at {url}")
        time.sleep(1)


def session_options(token, tls_certs) -> dict:
    return {"headers": {"Authorization": f"Bearer {token}"}, "verify": str(tls_certs.ca_bundle)}


def calls_per_replica(deployed: Stack) -> dict[str, int]:
    """How many tools/call-carrying POSTs each running replica's access log shows."""
    # uvicorn's access log; the path is the public one (the prefix is given back to the app).
    line = re.compile(r'"POST /tools/weather/mcp HTTP/1\.1" 200')
    return {container: len(line.findall(deployed.logs(container))) for container in deployed.containers()}


def proxy_errors(deployed: Stack) -> list[str]:
    """The error lines of the stack's nginx, to say why a call failed."""
    return [line for c in deployed.containers("nginx") for line in deployed.logs(c).splitlines() if "[error]" in line]


def test_calls_spread_over_every_replica(stack, tls_certs):
    deployed, url, token = stack
    before = calls_per_replica(deployed)
    with Load(url, "streamable-http", CLIENTS, **session_options(token, tls_certs)) as load:
        time.sleep(8)
        result = load.stop()
    assert result.failures == [], result.failures[:5]
    assert result.calls >= 100
    after = calls_per_replica(deployed)
    served = {container: after[container] - before.get(container, 0) for container in after}
    assert len(served) == REPLICAS
    # Each replica served a fair share: nginx takes them in turn.
    assert min(served.values()) >= result.calls / REPLICAS / 3, served


def test_a_stopped_replica_costs_no_call(stack, tls_certs):
    """A replica stopped as Swarm stops one (SIGTERM: a drained node, a rescheduled task): the calls
    it holds are answered, new ones go to the others, Swarm starts a replacement."""
    deployed, url, token = stack
    victim = deployed.containers()[0]
    with Load(url, "streamable-http", CLIENTS, **session_options(token, tls_certs)) as load:
        time.sleep(3)
        deployed.engine.docker("stop", victim)
        replicas = deployed.wait_replicas(REPLICAS, timeout=120)
        time.sleep(2)
        result = load.stop()
    assert victim not in replicas
    assert result.failures == [], (len(result.failures), result.failures[:5], proxy_errors(deployed)[-10:])
    assert result.calls >= 200


def test_a_killed_replica_loses_only_the_answers_it_had_begun(stack, tls_certs):
    """A replica killed outright (SIGKILL: a crash, the OOM killer): every call sent after it died,
    and every call it had received but not begun to answer, is answered by the others; only an
    answer it had begun to stream is lost (nginx cannot send half an answer again)."""
    deployed, url, token = stack
    victim = deployed.containers()[0]
    with Load(url, "streamable-http", CLIENTS, **session_options(token, tls_certs)) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        deployed.engine.docker("kill", victim)
        replicas = deployed.wait_replicas(REPLICAS, timeout=120)
        time.sleep(2)
        result = load.stop()
    assert victim not in replicas
    lost = [failure for failure in result.failures if failure.started < killed_at]
    assert [failure for failure in result.failures if failure not in lost] == [], proxy_errors(deployed)[-10:]
    # At most the calls in flight on that replica: a third of the clients', with room for an uneven share.
    assert len(lost) <= CLIENTS // 2, lost
    assert all("Timed out" in failure.what for failure in lost), lost
    begun = [line for line in proxy_errors(deployed) if "upstream prematurely closed connection" in line]
    assert len(begun) >= len(lost)
    assert result.calls >= 200
    print(f"killed replica: {len(lost)} of {result.calls} calls lost (answers begun)")


def test_rolling_update_to_a_new_image_costs_no_call(stack, tls_certs):
    deployed, url, token = stack
    server = deployed.repo / "weather_mcp" / "server.py"
    server.write_text(server.read_text() + "\n# release 2\n")
    published = deployed.script("build-publish.sh")
    assert published.returncode == 0, published.stdout + published.stderr
    old = set(deployed.containers())
    with Load(url, "streamable-http", CLIENTS, **session_options(token, tls_certs)) as load:
        time.sleep(2)
        deployed.deploy()  # the version build-publish.sh just wrote to VERSION: 2
        deadline = time.monotonic() + 300
        while deployed.update_state() != "completed":
            assert deployed.update_state() in ("", "updating"), deployed.tasks()
            assert time.monotonic() < deadline, deployed.tasks()
            time.sleep(1)
        replicas = deployed.wait_replicas(REPLICAS, image_tag="2", timeout=60)
        time.sleep(2)
        result = load.stop()
    assert not old & set(replicas)  # every replica was replaced
    assert result.failures == [], (len(result.failures), result.failures[:5], proxy_errors(deployed)[-10:])
    assert result.calls >= 300


def test_the_stack_checks_tokens_and_passes_check_deployment(stack, tls_certs):
    deployed, url, token = stack
    from mcp_probe import raw_tools_call

    assert raw_tools_call(url, verify=str(tls_certs.ca_bundle)).status_code == 401
    assert raw_tools_call(url, f"Bearer {token[:-1]}0", verify=str(tls_certs.ca_bundle)).status_code == 401
    command = [sys.executable, "check_deployment.py", url, "--token", token, "--tool", "add", "--arguments"]
    done = subprocess.run(
        [*command, '{"a": 2, "b": 3}'],
        cwd=deployed.repo,
        env={**os.environ, "SSL_CERT_FILE": str(tls_certs.ca_bundle)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "add answered" in done.stdout and "401 without a token" in done.stdout
