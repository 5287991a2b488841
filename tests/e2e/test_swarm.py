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

import hashlib
import json
import os
import re
import subprocess
import sys
import time

import pytest
from mcp_probe import ask_with_mcp2_client, asked_in_sessions, progress_timing, raw_tools_call
from served_project import add_client

from .load import Load
from .swarm import Stack, deployed_stack, swarm_mode
from .test_attacks import ATTACKER

pytestmark = pytest.mark.e2e

REPLICAS = 3
CLIENTS = 10


@pytest.fixture(scope="module")
def swarm(docker_engine):
    with swarm_mode(docker_engine):
        yield docker_engine


@pytest.fixture(scope="module")
def stack(swarm, base_image, registry, tls_certs, tmp_path_factory):
    """The stack, deployed and healthy: (Stack, its URL, a client's token)."""
    with deployed_stack(swarm, registry, tls_certs, tmp_path_factory.mktemp("swarm"), REPLICAS) as deployed:
        yield deployed


def session_options(token, tls_certs) -> dict:
    return {"headers": {"Authorization": f"Bearer {token}"}, "verify": str(tls_certs.ca_bundle)}


def calls_per_replica(deployed: Stack, answered: str = r"/tools/weather/mcp HTTP/1\.1\" 200") -> dict[str, int]:
    """How many POSTs each running replica answered as `answered` says (by default tools/call-carrying
    ones), by its access log (mcp_serve.py writes it, in uvicorn's format whatever uvicorn's version;
    the path is the public one)."""
    line = re.compile(r'"POST ' + answered)
    return {container: len(line.findall(deployed.logs(container))) for container in deployed.containers()}


def ask_twenty_times(url: str, token: str, tls_certs) -> dict:
    """The tool that asks the user, called 20 times by the mcp 2.x SDK's own client with the token: its report."""
    return ask_with_mcp2_client(
        urls=[url],
        calls=20,
        headers={"Authorization": f"Bearer {token}"},
        ca_file=str(tls_certs.ca_bundle),
        tool="forecast_for_asked_city",
        answer={"city": "Oslo"},
        expected="Sunny in Oslo",
    )


def proxy_errors(deployed: Stack) -> list[str]:
    """The error lines of the stack's nginx, to say why a call failed."""
    return [line for c in deployed.containers("nginx") for line in deployed.logs(c).splitlines() if "[error]" in line]


# Every POST a replica answered: streamable-http's and SSE's messages, requests and notifications.
EVERY_POST = r"/tools/weather/(mcp|messages/) HTTP/1\.1\" 20[02]"


@pytest.mark.parametrize(("transport", "sessions"), [("sse", None), ("streamable-http", "stateful")])
def test_sessions_are_served_through_two_replicas_and_a_lost_one_ends_only_its_own(
    swarm, base_image, registry, tls_certs, tmp_path, transport, sessions
):
    """Stateful sessions (SSE, and streamable-http with `sessions: stateful`) on two replicas behind
    the stack's nginx, which spreads requests with no regard to sessions: the mcp 1.x SDK's client
    (2025-11-25) calls a tool that asks it which city in the middle of the call (a request over the
    session) 20 times in 4 sessions, with no failure and both replicas taking requests; progress
    notifications arrive. Then a replica is killed: only the sessions it held end, and their
    clients start new ones, which the other replica serves."""
    with deployed_stack(swarm, registry, tls_certs, tmp_path, 2, transport=transport, sessions=sessions) as (
        deployed,
        url,
        token,
    ):
        options = session_options(token, tls_certs)
        report = asked_in_sessions(url, transport, sessions=4, calls=5, **options)
        assert (report["ok"], report["failed"], report["new_sessions"]) == (20, 0, 0), report["errors"][:3]
        served = calls_per_replica(deployed, EVERY_POST)
        assert len(served) == 2 and all(served.values()), served
        assert progress_timing(url, transport, steps=3, wait_seconds=0.5, **options)["notifications"] == 3

        victim = deployed.containers()[0]
        report = asked_in_sessions(
            url,
            transport,
            sessions=8,
            calls=4,
            pause_after=2,
            on_pause=lambda: deployed.engine.docker("kill", victim),
            **options,
        )
    assert (report["ok"], report["failed"]) == (32, 0), report["errors"][:3]
    # nginx took the 8 sessions' first requests in turn: each replica held some, and only the
    # victim's ended (one new session each).
    assert 0 < report["new_sessions"] < 8, report["errors"]


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


def test_a_tool_that_asks_is_answered_whichever_replica_takes_the_answer(stack, tls_certs):
    """A tool that asks the user (2026-07-28: an InputRequiredResult; the client's retry carries the
    answer and the sealed state), called 20 times by the mcp 2.x SDK's own client through the
    stack's nginx with TLS and a token: nginx sends each retry to another replica, and every call
    is answered, as the replicas share MCP_REPLICA_KEYS (from .env, made as example.env says)."""
    deployed, url, token = stack
    before = calls_per_replica(deployed)
    report = ask_twenty_times(url, token, tls_certs)
    assert (report["ok"], report["failed"]) == (20, 0), report["errors"][:3]
    after = calls_per_replica(deployed)
    assert all(after[container] > before.get(container, 0) for container in after), (before, after)


@pytest.mark.parametrize("fixture", ["mcp2_lowlevel", "fastmcp4_app"])
def test_a_tool_that_asks_is_answered_across_replicas_by_the_other_generations_that_seal(
    swarm, base_image, registry, tls_certs, tmp_path, fixture
):
    """The same for mcp 2.x's low-level Server (its documented RequestStateBoundary) and fastmcp 4,
    each from its fixture repository, on two replicas."""
    with deployed_stack(swarm, registry, tls_certs, tmp_path, 2, fixture=fixture) as (deployed, url, token):
        report = ask_twenty_times(url, token, tls_certs)
        served = calls_per_replica(deployed, EVERY_POST)
    assert (report["ok"], report["failed"]) == (20, 0), report["errors"][:3]
    assert len(served) == 2 and all(served.values()), served


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
        deployed.engine.docker("kill", victim)
        deployed.engine.docker.run(["wait", victim], retcode=None)  # dead (or removed): a call sent from
        # here on must reach another
        killed_at = time.monotonic()  # (one sent while `kill` ran could still reach it: CI18 saw one)
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
    """A new release and a new client in one ./deploy-stack.sh, as DEPLOYMENT.md says: the replicas
    are replaced one at a time with no call lost, and then take the new client's token. (The configs
    and secrets are named after their content, so a changed tokens file is a new secret.)"""
    deployed, url, token = stack
    docker, verify = deployed.engine.docker, str(tls_certs.ca_bundle)
    names = docker("config", "ls", "--format", "{{.Name}}").split()
    names += docker("secret", "ls", "--format", "{{.Name}}").split()
    conf = (deployed.repo / "nginx" / f"{deployed.name}.conf").read_bytes()
    tokens = (deployed.repo / "mcp-tokens" / "clients.sha256").read_bytes()
    assert f"{deployed.name}-nginx-{hashlib.sha256(conf).hexdigest()[:12]}" in names, names
    assert f"{deployed.name}-tokens-{hashlib.sha256(tokens).hexdigest()[:12]}" in names, names
    server = deployed.repo / "weather_mcp" / "server.py"
    server.write_text(server.read_text() + "\n# release 2\n")
    published = deployed.script("build-publish.sh")
    assert published.returncode == 0, published.stdout + published.stderr
    second = add_client(deployed.repo, "second-client")
    assert raw_tools_call(url, f"Bearer {second}", verify=verify).status_code == 401  # not deployed yet
    old = set(deployed.containers())
    with Load(url, "streamable-http", CLIENTS, **session_options(token, tls_certs)) as load:
        time.sleep(2)
        deployed.deploy()  # the version build-publish.sh just wrote to VERSION: 2
        deployed.wait_update()
        replicas = deployed.wait_replicas(REPLICAS, image_tag="2", timeout=60)
        time.sleep(2)
        result = load.stop()
    assert not old & set(replicas)  # every replica was replaced
    assert result.failures == [], (len(result.failures), result.failures[:5], proxy_errors(deployed)[-10:])
    assert result.calls >= 300
    assert raw_tools_call(url, f"Bearer {second}", verify=verify).status_code == 200


def test_a_container_on_the_stacks_network_gets_nothing_without_a_token(stack):
    """nginx is not the only way to a replica: a container on the stack's network (here another
    replica) reaches the server's port directly, and the server checks the token itself."""
    deployed, _, token = stack
    attacker, *_ = deployed.containers()
    stored = (deployed.repo / "mcp-tokens" / "clients.sha256").read_text().split()[0]
    attempts = {"no credential": None, "a token nobody was given": "Bearer " + "0" * 64, "the hash": f"Bearer {stored}"}
    out = deployed.engine.docker(
        "exec", attacker, "python", "-c", ATTACKER, "http://server:8000/mcp", json.dumps(attempts)
    )
    assert json.loads(out.strip().splitlines()[-1]) == dict.fromkeys(attempts, 401)


def test_the_stack_checks_tokens_and_passes_check_deployment(stack, tls_certs):
    deployed, url, token = stack
    assert raw_tools_call(url, verify=str(tls_certs.ca_bundle)).status_code == 401
    changed = token[:-1] + ("1" if token.endswith("0") else "0")  # one digit other than the token's
    assert raw_tools_call(url, f"Bearer {changed}", verify=str(tls_certs.ca_bundle)).status_code == 401
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
