"""A rendered deployment, driven the way its user would: build the image, `docker-compose up`, nginx.

The rendered files are used as rendered. The one substitution: the Dockerfile's base image is
pointed at the local stand-in for python:3.13-slim (`--build-arg PYTHON_IMAGE=...`), because no
registry can be pulled from on these machines.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from answer_sets import ENDPOINTS
from fixture_repos import DATA, apply_template, checkout_fixture, snapshot
from served_project import add_client

from .certs import TlsCerts
from .docker_engine import DockerEngine
from .nginx import Nginx
from .ports import free_port, free_ports

URL_PREFIX = "tools/weather"
# What the tests write into .env for the variables the answers declare without a default.
ENV_VALUES = {
    "WEATHER_API_KEY": "k-from-dotenv",
    "API_KEY": "k-from-dotenv",
    # Made as example.env says; the replicas of a stack share it.
    "MCP_REPLICA_KEYS": secrets.token_hex(32),
}


@dataclass
class Combination:
    fixture: str  # a repository under tests/fixtures
    transport: str
    nginx: bool

    @property
    def id(self) -> str:
        return f"{self.fixture}-{self.transport}-{'nginx' if self.nginx else 'direct'}"


@dataclass
class Deployment:
    combination: Combination | None
    repo: Path
    answers: dict
    engine: DockerEngine
    user_files_before: dict[str, bytes]
    nginx: Nginx | None = None
    compose_project: str = ""
    build_seconds: float = 0.0
    healthy_after: float = 0.0
    client_token: str = ""  # made by add_client() (DEPLOYMENT.md's commands) where the server checks tokens
    metrics_port: int = 0  # where compose publishes the metrics on loopback (MCP_METRICS_HOST_PORT)

    # --- what the answers made ---------------------------------------------------------

    @property
    def transport(self) -> str:
        return self.answers["transport"]

    @property
    def service(self) -> str:
        return self.answers["image"].rsplit("/", 1)[-1]

    @property
    def image(self) -> str:
        return self.answers["image"] + ":latest"

    @property
    def checks_tokens(self) -> bool:
        """The default auth answer: the server checks each client's bearer token, behind nginx or not."""
        return self.answers.get("auth", "tokens") == "tokens"

    @property
    def auth_headers(self) -> dict[str, str]:
        """What a client must send, directly or through nginx: the token when the server checks one."""
        return {"Authorization": f"Bearer {self.client_token}"} if self.checks_tokens else {}

    @property
    def direct_url(self) -> str:
        return f"http://127.0.0.1:{self.answers['port']}{ENDPOINTS[self.transport]}"

    @property
    def proxied_base(self) -> str:
        return f"https://localhost:{self.answers['https_port']}/{URL_PREFIX}"

    @property
    def proxied_url(self) -> str:
        return self.proxied_base + ENDPOINTS[self.transport]

    # --- doing what the user does --------------------------------------------------------

    def build(self, build_flags: list[str], **env: str) -> float:
        """`docker build` of the rendered project; env for the build's secrets (CR_PAT)."""
        started = time.monotonic()
        dockerfile = self.repo / self.answers.get("dockerfile", "Dockerfile")
        self.engine.docker.with_env(**env)(
            "build", *build_flags, "--file", str(dockerfile), "--tag", self.image, str(self.repo)
        )
        return time.monotonic() - started

    def add_client(self, name: str = "e2e-client") -> str:
        """DEPLOYMENT.md's "Clients and tokens" commands, run as printed (for a client of this name):
        the token they print. The server reads the tokens file they write."""
        return add_client(self.repo, name)

    def compose_up(self, **values: str) -> None:
        """`cp example.env .env`, fill it in (values win), `docker-compose up -d` with the rendered compose file.

        Where the server checks tokens, a client's token is made first, as DEPLOYMENT.md says."""
        if self.checks_tokens and not self.client_token:
            self.client_token = self.add_client()
        if not self.metrics_port:
            self.metrics_port = free_port()
        filled = {**ENV_VALUES, "MCP_METRICS_HOST_PORT": str(self.metrics_port), **values}
        lines = []
        for line in (self.repo / "example.env").read_text().splitlines():
            name = line.split("=", 1)[0]
            lines.append(f"{name}={filled[name]}" if name in filled else line)
        (self.repo / ".env").write_text("\n".join(lines) + "\n")
        self.compose_project = self.service
        self.engine.compose(*self._compose_args(), "up", "-d")

    def compose_down(self) -> None:
        if self.compose_project:
            self.engine.compose.run([*self._compose_args(), "down", "--volumes"], retcode=None)

    def _compose_args(self) -> list[str]:
        compose_file = self.repo / "docker-compose.yaml"
        return ["-f", str(compose_file), "--project-directory", str(self.repo), "-p", self.compose_project]

    def health(self, container: str | None = None) -> str:
        out = self.engine.docker("inspect", "--format", "{{json .State.Health}}", container or self.service)
        return (json.loads(out) or {}).get("Status", "none")

    def wait_health(self, wanted: str, container: str | None = None, timeout: float = 90) -> float:
        """Seconds until Docker's HEALTHCHECK reports `wanted`."""
        started = time.monotonic()
        while (status := self.health(container)) != wanted:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{container or self.service} is {status}, not {wanted}:\n{self.logs(container)}")
            time.sleep(0.5)
        return time.monotonic() - started

    def logs(self, container: str | None = None) -> str:
        _, out, err = self.engine.docker.run(["logs", container or self.service], retcode=None)
        return out + err

    @property
    def url(self) -> str:
        """Where a client reaches the server: through nginx when the answers chose it."""
        return self.proxied_url if self.answers["use_nginx"] else self.direct_url

    def start_nginx(self, workdir: Path) -> None:
        self.nginx = Nginx(workdir, self.repo / "nginx" / f"{self.service}.conf")
        self.nginx.start(wait_ports=(self.answers["https_port"],))

    def stop(self) -> None:
        if self.nginx:
            self.nginx.stop()
        self.compose_down()
        self.engine.docker.run(["image", "rm", "-f", self.image], retcode=None)

    def wait_serving(self, timeout: float = 60) -> None:
        """Until the server itself answers on the published port (docker-proxy accepts before it does)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.answers['port']}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.service} does not answer:\n{self.logs()}")
            time.sleep(0.2)

    def compose_service(self) -> dict:
        return yaml.safe_load((self.repo / "docker-compose.yaml").read_text())["services"][self.service]


def port_answers(nginx: bool) -> dict:
    """The container's port, and nginx's two when it is used: free on loopback and distinct
    (the template refuses an nginx port equal to the container's)."""
    port, https_port, http_port = free_ports(3)
    return {"port": port, "https_port": https_port, "http_port": http_port} if nginx else {"port": port}


def nginx_answers(tls: TlsCerts) -> dict:
    """nginx with the test certificate (its ports: port_answers)."""
    return {
        "public_host": "localhost",
        "url_prefix": URL_PREFIX,
        "ssl_certificate": str(tls.cert_chain),
        "ssl_certificate_key": str(tls.private_key),
    }


def unique_image(name: str) -> str:
    # Unique per run, so the container, compose project and image of parallel or crashed runs never meet.
    return f"e2e/{name}-{uuid.uuid4().hex[:6]}"


def deploy(combination: Combination, workdir: Path, engine: DockerEngine, tls: TlsCerts) -> Deployment:
    """The user's repository (committed in git), with the template applied for this combination.

    The answers about the code (generation, server, dependencies, ...) are not given: they are
    what `copier copy --defaults` reads from the repository.
    """
    repo = checkout_fixture(combination.fixture, workdir / "repo")
    before = snapshot(repo)
    answers = {
        **DATA.get(combination.fixture, {}),
        "transport": combination.transport,
        "image": unique_image(combination.id),
        **port_answers(combination.nginx),
        "use_nginx": combination.nginx,
    }
    if combination.nginx:
        answers |= nginx_answers(tls)
    apply_template(repo, **answers)
    recorded = yaml.safe_load((repo / ".copier-answers.mcp-docker.yml").read_text())
    return Deployment(combination, repo, {**recorded, **answers}, engine, before)
