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

import pytest

from .load import Load
from .swarm import Stack, deployed_stack, swarm_mode

pytestmark = pytest.mark.e2e

REPLICAS = 3
CLIENTS = 10


@pytest.fixture(scope="module")
def stack(docker_engine, base_image, registry, tls_certs, tmp_path_factory):
    """The stack, deployed and healthy: (Stack, its URL, a client's token)."""
    with swarm_mode(docker_engine):
        with deployed_stack(docker_engine, registry, tls_certs, tmp_path_factory.mktemp("swarm"), REPLICAS) as deployed:
            yield deployed


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
