"""A real single-node Docker Swarm on the test engine, and a rendered stack driven as its user drives it.

The engine is put in swarm mode (``docker swarm init``) for the tests that need it; the suite's
own engine stays a swarm (see swarm_mode). Its kernel has no IPVS, so Swarm's virtual IPs and
routing mesh do not work here: the stack does not use them (``endpoint_mode: dnsrr``, nginx's
ports in ``host`` mode), which is also why it runs on any Swarm.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from fixture_repos import DATA, apply_template, checkout_fixture
from mcp_probe import list_and_call, raw_tools_call
from served_project import add_client

from .cache import file_lock
from .certs import TlsCerts
from .deployment import ENV_VALUES
from .docker_engine import DockerEngine
from .nginx_image import ensure_nginx_image
from .ports import free_port, free_ports
from .registry import Registry

# An mcp 2.x server repository (a factory function, pyproject.toml), as test_deployments.py has it.
FIXTURE = "mcp2_factory"


@contextmanager
def swarm_mode(engine: DockerEngine):
    """The engine as a single-node swarm manager for the duration.

    The suite's own engine stays a swarm afterwards: leaving breaks the networks of the compose
    projects other tests run on it meanwhile (their containers lose their network). An engine of
    the user's is left again, as it was."""
    with file_lock("swarm-mode"):
        state = engine.docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
        started_here = state != "active"
        if started_here:
            # A port of its own for the swarm's control plane: another engine on this machine (the
            # system's, a second test run's) may be a swarm manager on the default 2377.
            address = f"127.0.0.1:{free_port()}"
            engine.docker("swarm", "init", "--listen-addr", address, "--advertise-addr", address)
    try:
        yield
    finally:
        if started_here and not engine.is_the_suites_own:
            engine.docker.run(["swarm", "leave", "--force"], retcode=None, timeout=120)


@dataclass
class Stack:
    """A stack deployed from a rendered project with its own deploy-stack.sh."""

    repo: Path
    name: str
    engine: DockerEngine

    def script(self, name: str, *args: str) -> subprocess.CompletedProcess:
        """One of the project's scripts (build-publish.sh, deploy-stack.sh), run as the user runs it."""
        return subprocess.run(
            [str(self.repo / name), *args],
            cwd=self.repo,
            env={**self.engine.full_env()},
            capture_output=True,
            text=True,
            timeout=900,
        )

    def deploy(self, *args: str) -> str:
        done = self.script("deploy-stack.sh", *args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    def remove(self) -> None:
        self.engine.docker.run(["stack", "rm", self.name], retcode=None, timeout=120)
        deadline = time.monotonic() + 60
        while self.containers(all_states=True) and time.monotonic() < deadline:
            time.sleep(1)

    def containers(self, service: str = "server", all_states: bool = False) -> list[str]:
        """The ids of the service's task containers (running ones unless all_states)."""
        args = ["ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.name}_{service}"]
        return self.engine.docker(*args, *(["-a"] if all_states else [])).split()

    def healthy_replicas(self) -> dict[str, str]:
        """{container id: image} of the server's running, healthy task containers."""
        healthy = {}
        for container in self.containers():
            _, out, _ = self.engine.docker.run(
                ["inspect", "--format", "{{json .State.Health}} {{.Config.Image}}", container], retcode=None
            )
            if not out.strip():
                continue  # gone meanwhile
            health, image = out.rsplit(" ", 1)
            if (json.loads(health) or {}).get("Status") == "healthy":
                healthy[container] = image.strip()
        return healthy

    def wait_replicas(self, count: int, image_tag: str | None = None, timeout: float = 240) -> dict[str, str]:
        """Until exactly `count` replicas are healthy (all running `image_tag`, when given)."""
        deadline = time.monotonic() + timeout
        while True:
            replicas = self.healthy_replicas()
            tags = {image.split("@")[0].rsplit(":", 1)[-1] for image in replicas.values()}
            tags_ok = image_tag is None or tags == {image_tag}
            if len(replicas) == count and len(self.containers()) == count and tags_ok:
                return replicas
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(replicas)} healthy replicas ({replicas}), not {count}:\n{self.tasks()}")
            time.sleep(1)

    def update_state(self) -> str:
        """The server service's update state ("" before any update, then updating/completed/rollback_*)."""
        state = "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"
        return self.engine.docker("service", "inspect", "--format", state, f"{self.name}_server").strip()

    def wait_update(self, timeout: float = 300) -> None:
        """Until the server service's update is completed (its monitor period over), failing on a rollback."""
        deadline = time.monotonic() + timeout
        while (state := self.update_state()) != "completed":
            assert state in ("", "updating"), self.tasks()
            assert time.monotonic() < deadline, self.tasks()
            time.sleep(1)

    def tasks(self) -> str:
        _, out, err = self.engine.docker.run(["stack", "ps", "--no-trunc", self.name], retcode=None)
        return out + err

    def logs(self, container: str) -> str:
        _, out, err = self.engine.docker.run(["logs", container], retcode=None)
        return out + err


@contextmanager
def deployed_stack(
    engine: DockerEngine,
    registry: Registry,
    tls: TlsCerts,
    workdir: Path,
    replicas: int,
    cpus=None,
    transport: str = "streamable-http",
    sessions: str | None = None,
    fixture: str = FIXTURE,
):
    """The fixture repository with the template applied for Swarm (behind the stack's nginx with TLS, the
    replicas checking the clients' tokens), published to the registry by build-publish.sh and deployed
    by deploy-stack.sh, healthy: yields (Stack, URL, a client's token made with DEPLOYMENT.md's commands).

    cpus: a CPU limit per replica written into docker-stack.yaml (the benchmarks' setting)."""
    ensure_nginx_image(engine)
    repo = checkout_fixture(fixture, workdir / "repo")
    https_port, http_port = free_ports(2)
    name = f"e2e-swarm-{uuid.uuid4().hex[:6]}"
    answers = {
        **DATA.get(fixture, {}),
        # The stand-in base image's Python (no registry can be pulled from): a fixture that states
        # another (mcp2_lowlevel's own Dockerfile says 3.12) is built on it all the same.
        "python_version": "3.13",
        "orchestrator": "swarm",
        "replicas": replicas,
        "transport": transport,
        **({"sessions": sessions} if sessions else {}),
        "image": f"{registry.address}/e2e/{name}",
        "public_host": "localhost",
        "url_prefix": "tools/weather",
        "https_port": https_port,
        "http_port": http_port,
        "ssl_certificate": str(tls.cert_chain),
        "ssl_certificate_key": str(tls.private_key),
        # The stacks are kept under load with one client's token: a flood by design.
        "calls_per_second": 10000,
    }
    apply_template(repo, **answers)
    if cpus is not None:
        stack_file = repo / "docker-stack.yaml"
        stack_file.write_text(stack_file.read_text().replace('cpus: "1"', f'cpus: "{cpus}"', 1))
    token = add_client(repo, "swarm-client")
    lines = []
    for line in (repo / "example.env").read_text().splitlines():
        variable = line.split("=", 1)[0]
        lines.append(f"{variable}={ENV_VALUES[variable]}" if variable in ENV_VALUES else line)
    (repo / ".env").write_text("\n".join(lines) + "\n")
    # The stack's default name is the image's: the one asked for here.
    deployed = Stack(repo, name, engine)
    try:
        published = deployed.script("build-publish.sh")
        assert published.returncode == 0, published.stdout + published.stderr
        assert "Deployed" in deployed.deploy()  # VERSION says 1
        deployed.wait_replicas(replicas, image_tag="1")
        url = f"https://localhost:{https_port}/tools/weather/{'sse' if transport == 'sse' else 'mcp'}"
        wait_answering(url, transport, token, tls, stateful=transport == "sse" or sessions == "stateful")
        yield deployed, url, token
    finally:
        deployed.remove()
        for tag in ("1", "2", "latest"):
            engine.docker.run(["image", "rm", "-f", f"{answers['image']}:{tag}"], retcode=None)


def wait_answering(url: str, transport: str, token: str, tls: TlsCerts, stateful: bool, timeout: float = 60) -> None:
    """Until the stack's nginx answers a call with the token (it starts apart from the replicas): in
    a session of the SDK's client where sessions are stateful, a lone POST otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if stateful:
                headers = {"Authorization": f"Bearer {token}"}
                if list_and_call(url, transport, headers=headers, verify=str(tls.ca_bundle))[1] == "5":
                    return
            elif raw_tools_call(url, f"Bearer {token}", verify=str(tls.ca_bundle)).status_code == 200:
                return
        except (httpx.TransportError, httpx.HTTPStatusError):
            pass
        except Exception as e:  # the SDK's SSE client raises its task group's ExceptionGroup
            if not any(isinstance(inner, httpx.HTTPError) for inner in getattr(e, "exceptions", ())):
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"the stack's nginx does not answer at {url}")
        time.sleep(1)
