"""A real single-node Docker Swarm on the test engine, and a rendered stack driven as its user drives it.

The engine is put in swarm mode (``docker swarm init``) for the tests that need it and left again
afterwards, unless it already was a swarm. Its kernel has no IPVS, so Swarm's virtual IPs and
routing mesh do not work here: the stack does not use them (``endpoint_mode: dnsrr``, nginx's
ports in ``host`` mode), which is also why it runs on any Swarm.
"""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .docker_engine import DockerEngine


@contextmanager
def swarm_mode(engine: DockerEngine):
    """The engine as a single-node swarm manager for the duration."""
    state = engine.docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    started_here = state != "active"
    if started_here:
        engine.docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        if started_here:
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

    def tasks(self) -> str:
        _, out, err = self.engine.docker.run(["stack", "ps", "--no-trunc", self.name], retcode=None)
        return out + err

    def logs(self, container: str) -> str:
        _, out, err = self.engine.docker.run(["logs", container], retcode=None)
        return out + err
