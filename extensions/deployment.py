"""The deployment model: what is in front of the server, who checks credentials, and the
environment the server runs with, as tables (like generations.py for the SDKs).

- FRONTS: how requests reach the server (nginx on the Docker host, nginx in a Swarm stack, a
  Kubernetes Ingress, or the container's port directly): its URL and Host rules, its files and
  its section of DEPLOYMENT.md. The `orchestrator` and `use_nginx` answers pick one row.
- CREDENTIALS: who checks what the `auth` answer asks for. On every front it is the server
  itself (mcp_auth.py): a proxy in front may be bypassed (another container on the network, a
  user of the host, the image run by hand), so no front is trusted to have checked.
- TEMPLATE_VARIABLES: every environment variable the rendered files read, declared once. The
  server's environment in the compose file, the Swarm stack, the Kubernetes manifests and
  example.env is rendered from `Deployment.server_environment`, and the names an `env_vars`
  answer may not take are derived from this declaration.

`Deployment(answers)` derives what the files need, each value on demand: a value that does not
apply to the answers (the nginx certificate of a deployment without nginx) raises, so a template
that asks for it fails the render instead of writing an empty string.

Plain Python, no Jinja and no Copier, so the tests import it directly.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .generations import GENERATIONS, PREDECESSOR, SUCCESSOR

# The answers file's name (copier.yml's _answers_file): the files that print `copier update` say it.
ANSWERS_FILE = ".copier-answers.mcp-docker.yml"

TRANSPORTS = {
    # transport answer: (endpoint path, Claude Code / VS Code client "type")
    "streamable-http": ("/mcp", "http"),
    "sse": ("/sse", "sse"),
}

# The installers the image's build stage uses, pinned so a build today and next month agree.
UV_VERSION = "0.13.9"
POETRY_VERSION = "2.5.1"
POETRY_EXPORT_VERSION = "1.10.1"
# What mcp_observe.py exports metrics and traces with, installed in the image apart from the
# server's dependencies (/opt/observability), pinned as the installers are.
OBSERVABILITY_PACKAGES = (
    "prometheus-client==0.26.0",
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-http==1.45.2",
)
# The port the image serves Prometheus metrics on (MCP_METRICS_PORT): OpenTelemetry's Prometheus
# exporter's usual one. Never published to the public front.
METRICS_PORT = 9464

# Refused requests, counted per client address by the server's credential check (mcp_auth.py):
# this many in a row, then one per REFUSALS_PER_SECOND; the rest get 429.
REFUSALS_BURST = 30
REFUSALS_PER_SECOND = 1

# The image's HEALTHCHECK, in seconds. Docker's first probe comes one interval after the start (the
# engines people run have no --start-interval yet), so the interval is also how soon a new replica
# can take requests; failures in the start period do not count against a server still importing.
HEALTH = {"interval": 5, "timeout": 3, "start_period": 30, "retries": 3}

# Stopping: calls in progress may finish for `drain` seconds (MCP_DRAIN_SECONDS), within the
# orchestrator's grace period before it kills the container.
STOPPING = {"drain": 20, "grace": 30}
# A Swarm update: a replica at a time, `delay` between them, rolled back when a new replica fails
# within `monitor`; the stack's nginx looks the replicas up again every `resolve` seconds.
SWARM = {"delay": 5, "monitor": 30, "resolve": 5}
# What `docker stack deploy` says when the stack file is deployed without deploy-stack.sh. No "-" in
# it: Docker 20.10's stack deploy reads `${NAME:?run ./deploy-stack.sh}` as `${NAME:?run ./deploy}`
# with the default "stack.sh", and every config and secret was named ...-stack.sh, whatever its content.
STACK_VARIABLE_MISSING = "set by the deploy script beside this file: run it, not docker stack deploy"

# OAuth: the issuer's keys are read again every `keys_max_age` seconds (a key it removed stops
# counting then); a new opaque token is asked about at most `introspections_per_second` a second,
# after `introspection_burst` at once.
OAUTH = {"keys_max_age": 300, "introspection_burst": 50, "introspections_per_second": 10}

# Where the server reads its clients' token hashes, in the image (a folder, so an edited file is seen).
TOKENS_FOLDER = "/app/mcp-tokens"
TOKENS_FILE_NAME = "clients.sha256"
# On Swarm the tokens file is a secret, mounted where Swarm mounts secrets.
SWARM_TOKENS_FILE = "/run/secrets/" + TOKENS_FILE_NAME

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY = "0.0.0.0"  # every interface of the container
BIND_ALL = "CRITICAL: all interfaces; on 127.0.0.1 nothing outside the container reaches it"


class NotApplicable(Exception):
    """A derived value that the answers do not have (not an AttributeError: Jinja would print '')."""


# --- fronts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Front:
    name: str
    orchestrator: str  # the `orchestrator` answer it belongs to
    label: str  # what DEPLOYMENT.md calls it
    nginx: bool  # nginx is rendered (nginx/NAME.conf)
    tls: bool  # the front terminates TLS: clients use https://
    prefixed: bool  # served under /PREFIX (url_prefix), else at the host's root
    publish: str  # how the container's port is published: "loopback", "all" or "none"
    # The addresses whose X-Forwarded-* headers the server believes ("" = uvicorn's default,
    # 127.0.0.1), and why (a comment next to the setting).
    trusted_proxies: str
    trust_note: str
    docs_section: str  # DEPLOYMENT.md's section on it
    files: tuple[str, ...]  # the files it adds ({service} stands for the service name)
    questions: tuple[str, ...]  # the questions it asks (copier.yml's `when:` reads this)


# What a front with nginx of ours asks: the public name and path, nginx's ports and its certificate.
NGINX_QUESTIONS = (
    "public_host",
    "url_prefix",
    "https_port",
    "http_port",
    "ssl_certificate",
    "ssl_certificate_key",
    "calls_per_second",
)

FRONTS: dict[str, Front] = {
    front.name: front
    for front in (
        Front(
            name="host-nginx",
            orchestrator="compose",
            label="nginx on the Docker host, with HTTPS",
            nginx=True,
            tls=True,
            prefixed=True,
            publish="loopback",
            trusted_proxies="*",
            trust_note="nginx reaches the container through the Docker bridge, not from 127.0.0.1: believe its"
            " X-Forwarded-* headers (they name the client in the log; credentials are checked whatever they say)",
            docs_section="nginx and HTTPS",
            files=("nginx/{service}.conf",),
            questions=NGINX_QUESTIONS,
        ),
        Front(
            name="direct",
            orchestrator="compose",
            label="served directly, without a proxy",
            nginx=False,
            tls=False,
            prefixed=False,
            publish="all",
            trusted_proxies="",
            trust_note="",
            docs_section="Run",
            files=(),
            # With OAuth, the URL clients use (a load balancer's or tunnel's): nothing else says it.
            questions=("oauth_resource",),
        ),
        Front(
            name="stack-nginx",
            orchestrator="swarm",
            label="nginx as a service of the Swarm stack, with HTTPS",
            nginx=True,
            tls=True,
            prefixed=True,
            publish="none",
            trusted_proxies="*",
            trust_note="the stack's nginx reaches the replicas over the stack's network: believe its X-Forwarded-*"
            " headers (they name the client in the log; credentials are checked whatever they say)",
            docs_section="Docker Swarm",
            files=("nginx/{service}.conf", "docker-stack.yaml", "deploy-stack.sh"),
            questions=("replicas", *NGINX_QUESTIONS),
        ),
        Front(
            name="ingress",
            orchestrator="kubernetes",
            label="a Kubernetes Ingress (ingress-nginx), with HTTPS",
            nginx=False,
            tls=True,
            prefixed=False,
            publish="none",
            trusted_proxies="*",
            trust_note="the Ingress controller reaches the pods from its own: believe its X-Forwarded-* headers"
            " (they name the client in the log; credentials are checked whatever they say)",
            docs_section="Kubernetes",
            files=("k8s/deployment.yaml", "k8s/service.yaml", "k8s/ingress.yaml", "k8s/pdb.yaml"),
            questions=("replicas", "public_host"),
        ),
    )
}

ORCHESTRATORS = tuple(dict.fromkeys(front.orchestrator for front in FRONTS.values()))


def front_for(answers: dict[str, Any]) -> Front:
    """The front the answers pick. `use_nginx` counts only with compose, where it is asked: an
    answer given to a question that does not apply is never half-used."""
    orchestrator = answers.get("orchestrator") or "compose"
    fronts = [front for front in FRONTS.values() if front.orchestrator == orchestrator]
    if not fronts:
        raise NotApplicable(f"orchestrator {orchestrator!r} has no front")
    if len(fronts) == 1:
        return fronts[0]
    return next(front for front in fronts if front.nginx == bool(answers.get("use_nginx")))


def front_asks(question: str, orchestrator: str, use_nginx: Any = True) -> bool:
    """Whether the front these answers pick asks `question` (for copier.yml's `when:`).
    use_nginx itself is asked where the orchestrator has more than one front."""
    if question == "use_nginx":
        return sum(front.orchestrator == orchestrator for front in FRONTS.values()) > 1
    return question in front_for({"orchestrator": orchestrator, "use_nginx": use_nginx is True}).questions


# --- credentials ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    auth: str  # the `auth` answer
    checker: str  # who checks it
    mode: str  # the server's MCP_AUTH
    static_header: bool  # clients send a static `Authorization: Bearer` header of their own
    docs_section: str  # DEPLOYMENT.md's section on it


CREDENTIALS: dict[str, Credential] = {
    credential.auth: credential
    for credential in (
        Credential("tokens", "the server", "tokens", True, "Clients and tokens"),
        Credential("oauth", "the server", "oauth", False, "OAuth"),
        Credential("none", "nobody", "none", False, "No authentication"),
    )
}


def credential_for(auth: str, front: Front) -> Credential:
    """Who checks the credential `auth` asks for, behind `front`: the server, on every front (a
    proxy's check would leave the server open to whatever reaches it some other way)."""
    return CREDENTIALS[auth]


# --- the environment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateVariable:
    name: str
    read_by: str  # the rendered file that reads it
    meaning: str


# Every environment variable the rendered files read. An `env_vars` answer may take none of
# these names (RESERVED_ENV_VARS), and the tests check that the rendered files read no other.
TEMPLATE_VARIABLES: tuple[TemplateVariable, ...] = (
    TemplateVariable("MCP_SERVE_TRANSPORT", "mcp_serve.py", "the transport: streamable-http, sse or stdio"),
    TemplateVariable("MCP_SERVE_HOST", "mcp_serve.py", "the address the server binds"),
    TemplateVariable("MCP_SERVE_PORT", "mcp_serve.py", "the port the server listens on"),
    TemplateVariable("MCP_ALLOWED_HOSTS", "mcp_serve.py", "the Host headers the server accepts"),
    TemplateVariable("MCP_ALLOWED_ORIGINS", "mcp_serve.py", "the Origin headers the server accepts"),
    TemplateVariable("MCP_SERVER_ARGS", "mcp_serve.py", "command-line arguments for a server function"),
    TemplateVariable("FORWARDED_ALLOW_IPS", "mcp_serve.py", "proxies whose X-Forwarded-* headers are believed"),
    TemplateVariable("MCP_DRAIN_SECONDS", "mcp_serve.py", "how long calls in progress may finish on SIGTERM"),
    TemplateVariable("MCP_SERVE_WORKERS", "mcp_serve.py", "how many server processes the container runs"),
    TemplateVariable("MCP_REPLICA_KEYS", "mcp_serve.py", "the keys every replica shares (state, session routes)"),
    TemplateVariable("MCP_SESSION_ADDRESS", "mcp_sessions.py", "the address this replica's session ids name"),
    TemplateVariable("MCP_AUTH", "mcp_auth.py", "who may call the server"),
    TemplateVariable("MCP_TOKENS_FILE", "mcp_auth.py", "the clients' token hashes"),
    TemplateVariable("MCP_OAUTH_ISSUER", "mcp_auth.py", "the authorization server's issuer"),
    TemplateVariable("MCP_OAUTH_RESOURCE", "mcp_auth.py", "this server's URL as clients use it"),
    TemplateVariable("MCP_OAUTH_AUDIENCE", "mcp_auth.py", "the audience access tokens carry"),
    TemplateVariable("MCP_OAUTH_SCOPES", "mcp_auth.py", "the scopes every call needs"),
    TemplateVariable("MCP_OAUTH_JWKS_URI", "mcp_auth.py", "the issuer's signing keys"),
    TemplateVariable("MCP_OAUTH_INTROSPECTION_URL", "mcp_auth.py", "the introspection endpoint"),
    TemplateVariable("MCP_OAUTH_CLIENT_ID", "mcp_auth.py", "the client this server introspects as"),
    TemplateVariable("MCP_OAUTH_CLIENT_SECRET", "mcp_auth.py", "that client's secret"),
    TemplateVariable("MCP_OAUTH_KEYS_MAX_AGE", "mcp_auth.py", "how long the issuer's keys are used before a refetch"),
    TemplateVariable("PYTHONUNBUFFERED", "Dockerfile", "logs reach `docker logs` at once"),
    TemplateVariable("PYTHONDONTWRITEBYTECODE", "Dockerfile", "no .pyc files at run time"),
    TemplateVariable("PATH", "Dockerfile", "the virtual environment's bin first"),
    TemplateVariable("HOME", "Dockerfile", "the server user's home"),
    TemplateVariable("CR_PAT", "build-publish.sh", "the token for private dependencies"),
    TemplateVariable("PLATFORM", "build-publish.sh", "the platforms to build for"),
    TemplateVariable("BUILD_OPTIONS", "build-publish.sh", "more docker build options"),
    TemplateVariable("SOURCE_URL", "build-publish.sh", "the source repository's URL, for the image's label"),
    TemplateVariable("MCP_IMAGE_TAG", "deploy-stack.sh", "the image tag the stack runs"),
    TemplateVariable("STACK", "deploy-stack.sh", "the stack's name"),
)

RESERVED_ENV_VARS = frozenset(variable.name for variable in TEMPLATE_VARIABLES)


@dataclass(frozen=True)
class EnvEntry:
    """One variable of the server's environment, as the orchestrator files set it.

    fixed: the value the answers give (written in the files); else a setting from .env (or a
    Kubernetes Secret), with its default, or required (default None).
    """

    name: str
    why: str = ""  # a short comment: why it is set so
    fixed: str | None = None
    default: str | None = None
    description: str = ""  # for a setting: what example.env says of it

    @property
    def is_setting(self) -> bool:
        return self.fixed is None

    @property
    def required(self) -> bool:
        return self.fixed is None and self.default is None


DEFAULT_TOKENS_FILE = f"{TOKENS_FOLDER}/{TOKENS_FILE_NAME}"

CREDENTIAL_COMMENTS = {
    "tokens": "the server checks every request's bearer token against the clients' token hashes",
    "oauth": "the server checks every request's OAuth access token",
    "none": "no credential is checked: anyone who reaches the server can call every tool",
}

# The OAuth settings a provider may need besides the answers; in .env (or a Kubernetes Secret).
OAUTH_SETTINGS = (
    EnvEntry(
        "MCP_OAUTH_AUDIENCE",
        default="",
        description="The audience tokens carry, when the provider does not use the resource URL (empty: the resource).",
    ),
    EnvEntry(
        "MCP_OAUTH_JWKS_URI",
        default="",
        description="The issuer's signing keys, when its metadata does not name them (empty: from the metadata).",
    ),
    EnvEntry(
        "MCP_OAUTH_INTROSPECTION_URL",
        default="",
        description="For a provider that issues opaque (non-JWT) access tokens: its introspection endpoint, and"
        " the client this server is registered as there.",
    ),
    EnvEntry("MCP_OAUTH_CLIENT_ID", default=""),
    EnvEntry("MCP_OAUTH_CLIENT_SECRET", default=""),
)

# How DEPLOYMENT.md and example.env say to make a replica key (32 random bytes, as hex).
REPLICA_KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_hex(32))'"

# MCP_SERVE_WORKERS=auto never starts more than this many (each worker loads the server's code).
MAX_AUTO_WORKERS = 8

WORKERS = EnvEntry(
    "MCP_SERVE_WORKERS",
    default="auto",
    description="Server processes in the container: auto for one per CPU"
    f" the container may use (its CPU limit counted, at most {MAX_AUTO_WORKERS}), or a number. Each loads"
    " the server's code,"
    " so memory grows with each.",
)

# What the server tells its operators (mcp_observe.py): the audit line, and where traces go.
OBSERVABILITY_SETTINGS = (
    EnvEntry(
        "MCP_AUDIT",
        default="calls",
        description="The audit line of each tool call on stderr (time, client, tool, outcome, duration): calls;"
        " arguments adds the call's arguments (they may hold personal data); off.",
    ),
    EnvEntry(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        default="",
        description="Where traces go over OTLP/HTTP, e.g. http://otel-collector:4318 (empty: no traces;"
        ' DEPLOYMENT.md, "Metrics, traces and audit").',
    ),
    EnvEntry(
        "OTEL_EXPORTER_OTLP_HEADERS",
        default="",
        description="Headers the OTLP endpoint needs, as name=value pairs separated by commas, values"
        " URL-encoded: x-honeycomb-team=KEY, or Authorization=Basic%20... for Grafana Cloud.",
    ),
    EnvEntry("OTEL_SERVICE_NAME", default="", description="The name traces carry (empty: the deployment's name)."),
)

SERVER_ARGS = EnvEntry(
    "MCP_SERVER_ARGS",
    default="",
    description="Command-line arguments for a server function that parses its own (click, typer, argparse),"
    " e.g. --units metric; empty for a server object or factory.",
)


# --- what is derived from the answers ------------------------------------------------------


def script_file(server: str) -> str:
    """The file a server answer names, as a script with inline metadata (PEP 723) is run:
    server.py for server:mcp, src/app.py for src/app.py:mcp."""
    location = server.partition(":")[0]
    if location.endswith(".py"):
        return location.removeprefix("./")
    return "/".join(location.split(".")) + ".py"


def clean_prefix(value: str) -> str:
    return value.strip("/")


def registry_host(image: str) -> str:
    """The registry an image reference points at: its first component when that is a host."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def image_basename(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def nginx_identifier(identifier: str) -> str:
    """A short name for nginx variables, upstreams and zones.

    nginx refuses variable names that overflow variables_hash_bucket_size (64 by default), so a
    long name is cut and made unique again with a hash of the whole.
    """
    if identifier[:1].isdigit():
        identifier = "mcp_" + identifier  # $0_... would be read as the regex capture $0
    if len(identifier) <= 24:
        return identifier
    return f"{identifier[:17]}_{hashlib.sha256(identifier.encode()).hexdigest()[:6]}"


def token_variable(identifier: str) -> str:
    """The client's variable for the bearer token: WEATHER_MCP_TOKEN; a shell name never starts with a digit."""
    name = re.sub(r"(_MCP)?$", "_MCP_TOKEN", identifier.upper(), count=1)
    return f"MCP_{name}" if name[0].isdigit() else name


def dns_label(name: str, length: int) -> str:
    """The name as a DNS label of at most `length` characters: lowercase letters, digits and '-'."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:length].rstrip("-")


def parse_env_var(item: Any) -> dict[str, str | None]:
    """One env_vars item, in any of its three forms, as {name, default, description}."""
    if isinstance(item, dict):
        default = item.get("default")
        return {
            "name": str(item.get("name", "")),
            "default": None if default is None else str(default),
            "description": str(item.get("description") or ""),
        }
    name, sep, default = str(item).partition("=")
    return {"name": name.strip(), "default": default.strip() if sep else None, "description": ""}


def host_patterns(*hosts: str) -> str:
    """MCP_ALLOWED_HOSTS for these names: each, and each with any port."""
    return ",".join(f"{host},{host}:*" for host in dict.fromkeys(hosts))


# The answers a deployment is derived from; Copier asks them all before it renders a file.
REQUIRED_ANSWERS = ("image", "transport", "sdk", "port", "auth")


class Deployment:
    """What the files need, derived from the answers on demand."""

    def __init__(self, answers: dict[str, Any]):
        missing = [name for name in REQUIRED_ANSWERS if name not in answers]
        if missing:
            raise NotApplicable(f"no answer yet for {', '.join(missing)}")
        self.answers = answers

    def _answer(self, name: str) -> Any:
        if name not in self.answers:
            raise NotApplicable(f"the answers have no {name}")
        return self.answers[name]

    # names

    @cached_property
    def service_name(self) -> str:
        return image_basename(self.answers["image"])

    @cached_property
    def identifier(self) -> str:
        """For names that allow only letters, digits and '_' (nginx variables, env vars)."""
        return re.sub(r"[^A-Za-z0-9]+", "_", self.service_name).strip("_")

    @cached_property
    def nginx_id(self) -> str:
        return nginx_identifier(self.identifier)

    @cached_property
    def token_env_var(self) -> str:
        return token_variable(self.identifier)

    @cached_property
    def kubernetes_name(self) -> str:
        if self.front.orchestrator != "kubernetes":
            raise NotApplicable("kubernetes_name: only for orchestrator kubernetes")
        # Kubernetes names are DNS labels: lowercase letters, digits and '-', at most 63.
        return dns_label(self.service_name, 63)

    @cached_property
    def stack_name(self) -> str:
        if self.front.orchestrator != "swarm":
            raise NotApplicable("stack_name: only for orchestrator swarm")
        # Swarm names a stack's services STACK_SERVICE, and a service name is a DNS label (at
        # most 63 characters): the stack's name leaves room for "_server" and "_nginx".
        return dns_label(self.service_name, 55)

    @cached_property
    def swarm_prefix(self) -> str:
        return self.stack_name[:32].rstrip("-")

    @cached_property
    def logs_command(self) -> str:
        """The command that shows the server's log, on this orchestrator."""
        if self.front.orchestrator == "swarm":
            return f"docker service logs {self.stack_name}_server"
        if self.front.orchestrator == "kubernetes":
            return f"kubectl logs deployment/{self.kubernetes_name}"
        return "docker compose logs"

    @cached_property
    def exec_command(self) -> str:
        """The command that runs another command in (one of) the server's containers."""
        if self.front.orchestrator == "swarm":
            return f'docker exec "$(docker ps -q -f name={self.stack_name}_server | head -n 1)"'
        if self.front.orchestrator == "kubernetes":
            return f"kubectl exec deployment/{self.kubernetes_name} --"
        return f"docker exec {self.service_name}"

    # the SDK

    @cached_property
    def generation(self):
        return GENERATIONS[self.answers["sdk"]]

    @cached_property
    def sdk_other_major(self) -> dict[str, str] | None:
        """The same API on the package's other major version, for the version check's advice."""
        other = SUCCESSOR.get(self.generation.answer) or PREDECESSOR.get(self.generation.answer)
        if not other:
            return None
        generation = GENERATIONS[other]
        return {"answer": other, "lowest": generation.lowest, "below": generation.below}

    # the front and the URLs

    @cached_property
    def front(self) -> Front:
        return front_for(self.answers)

    @cached_property
    def credential(self) -> Credential:
        return credential_for(self.answers["auth"], self.front)

    @cached_property
    def endpoint_path(self) -> str:
        return TRANSPORTS[self.answers["transport"]][0]

    @cached_property
    def client_type(self) -> str:
        return TRANSPORTS[self.answers["transport"]][1]

    @cached_property
    def url_prefix(self) -> str:
        if not self.front.prefixed:
            raise NotApplicable(f"url_prefix: the front {self.front.name} serves the host's root")
        return clean_prefix(self._answer("url_prefix"))

    @cached_property
    def public_host(self) -> str:
        if self.front.name == "direct":
            raise NotApplicable("public_host: a direct deployment has no proxy name")
        return self._answer("public_host")

    @cached_property
    def public_authority(self) -> str:
        """host[:port] of the public URL."""
        if self.front.nginx:
            port = self._answer("https_port")
            return self.public_host if port == 443 else f"{self.public_host}:{port}"
        return self.public_host

    @cached_property
    def public_base_url(self) -> str:
        if self.front.name == "direct":
            return f"http://localhost:{self.answers['port']}"
        if self.front.prefixed:
            return f"https://{self.public_authority}/{self.url_prefix}"
        return f"https://{self.public_authority}"

    @cached_property
    def public_url(self) -> str:
        """The URL clients use. With OAuth and no proxy of ours, the resource URL the user gave."""
        if self.answers["auth"] == "oauth" and self.front.name == "direct":
            return self._answer("oauth_resource")
        return self.public_base_url + self.endpoint_path

    @cached_property
    def compose_front(self) -> Front:
        """The front of the compose file: on Swarm or Kubernetes it runs one container on this
        machine, to try the image out, as a direct deployment does."""
        return self.front if self.front.orchestrator == "compose" else FRONTS["direct"]

    def allowed_hosts(self, front: Front) -> str:
        """The Host headers the server accepts behind `front`: the names the answers imply, and
        loopback for checks on the machine itself. Never any name: a page on another site could
        otherwise reach the server through DNS rebinding."""
        if front.name == "direct":
            names = [*LOOPBACK_NAMES]
            if self.answers["auth"] == "oauth":
                names.insert(0, urllib.parse.urlsplit(self.public_url).hostname)
            return host_patterns(*names)
        if front.name == "ingress":
            return host_patterns(self.public_host)
        return host_patterns(self.public_host, *LOOPBACK_NAMES)

    def allowed_origins(self, front: Front) -> str:
        """The browser Origins the server accepts behind `front`: the site clients use only."""
        if front.name == "direct":
            if self.answers["auth"] == "oauth":
                parts = urllib.parse.urlsplit(self.public_url)
                return f"{parts.scheme}://{parts.netloc}"
            return ",".join(f"http://{name}:{self.answers['port']}" for name in LOOPBACK_NAMES)
        return f"https://{self.public_authority}"

    # nginx

    @cached_property
    def nginx_tls_certificate(self) -> str:
        return self._nginx_file("fullchain.pem", "ssl_certificate")

    @cached_property
    def nginx_tls_certificate_key(self) -> str:
        return self._nginx_file("privkey.pem", "ssl_certificate_key")

    def _nginx_file(self, secret_name: str, question: str) -> str:
        if not self.front.nginx:
            raise NotApplicable(f"{question}: the front {self.front.name} has no nginx")
        if self.front.name == "stack-nginx":
            # The stack's nginx reads them where Swarm mounts its secrets (deploy-stack.sh).
            return f"/run/secrets/{secret_name}"
        return self._answer(question)

    # OAuth

    @cached_property
    def oauth_resource_url(self) -> str:
        if self.answers["auth"] != "oauth":
            raise NotApplicable("oauth_resource_url: only for auth oauth")
        return self.public_url

    @cached_property
    def oauth_metadata_path(self) -> str:
        # RFC 9728: the well-known name goes between the host and the resource's path.
        return f"/.well-known/oauth-protected-resource{urllib.parse.urlsplit(self.oauth_resource_url).path}"

    @cached_property
    def oauth_metadata_url(self) -> str:
        parts = urllib.parse.urlsplit(self.oauth_resource_url)
        return f"{parts.scheme}://{parts.netloc}{self.oauth_metadata_path}"

    # the image

    @cached_property
    def app_env(self) -> list[dict[str, str | None]]:
        return [parse_env_var(item) for item in self.answers.get("env_vars") or []]

    @cached_property
    def git_token_user(self) -> str:
        host = self._answer("private_deps_host")
        # GitLab wants the user name oauth2 with a token; GitHub accepts x-access-token for PATs and app tokens.
        return "oauth2" if "gitlab" in host else "x-access-token"

    def tokens_file(self, front: Front) -> str:
        """Where the server reads its clients' token hashes behind `front`."""
        if self.credential.mode != "tokens":
            raise NotApplicable("tokens_file: only for auth tokens")
        return SWARM_TOKENS_FILE if front.name == "stack-nginx" else DEFAULT_TOKENS_FILE

    @cached_property
    def server_environment(self) -> list[EnvEntry]:
        return self.environment(self.front)

    @cached_property
    def compose_environment(self) -> list[EnvEntry]:
        return self.environment(self.compose_front)

    def environment(self, front: Front) -> list[EnvEntry]:
        """The server's environment behind `front`, as the compose file, the Swarm stack and the
        Kubernetes manifests set it; example.env holds the settings among them."""
        a = self.answers
        entries = [
            EnvEntry("MCP_SERVE_TRANSPORT", f"clients connect to {self.endpoint_path}", a["transport"]),
            EnvEntry("MCP_SERVE_HOST", BIND_ALL, ANY),
            EnvEntry("MCP_SERVE_PORT", "", str(a["port"])),
        ]
        hosts_why = 'Host headers the server accepts (others get 421 "Invalid Host header"): the names clients use'
        origins_why = "browser Origins it accepts (others get 403)"
        if front.name == "direct":
            # Without a proxy of ours, nothing in the answers names the host: loopback by default, and
            # the names a load balancer or tunnel passes on are the operator's to add in .env.
            entries += [
                EnvEntry(
                    "MCP_ALLOWED_HOSTS",
                    hosts_why,
                    default=self.allowed_hosts(front),
                    description="The Host names clients use, comma-separated, name:* for any port (others get 421);"
                    " add the name a load balancer or tunnel passes on.",
                ),
                EnvEntry(
                    "MCP_ALLOWED_ORIGINS",
                    origins_why,
                    default=self.allowed_origins(front),
                    description="The browser Origins accepted, comma-separated (clients outside a browser send none).",
                ),
            ]
        else:
            entries += [
                EnvEntry("MCP_ALLOWED_HOSTS", hosts_why, self.allowed_hosts(front)),
                EnvEntry(
                    "MCP_ALLOWED_ORIGINS", "browser Origins it accepts (others get 403)", self.allowed_origins(front)
                ),
            ]
        if front.trusted_proxies:
            entries.append(EnvEntry("FORWARDED_ALLOW_IPS", front.trust_note, front.trusted_proxies))
        entries.append(EnvEntry("MCP_AUTH", CREDENTIAL_COMMENTS[self.credential.mode], self.credential.mode))
        if self.credential.mode == "tokens" and self.tokens_file(front) != DEFAULT_TOKENS_FILE:
            entries.append(EnvEntry("MCP_TOKENS_FILE", "the tokens secret (deploy-stack.sh)", self.tokens_file(front)))
        if self.credential.mode == "oauth":
            issuer, resource = a["oauth_issuer"], self.public_url
            entries += [
                EnvEntry("MCP_OAUTH_ISSUER", "the authorization server, as its metadata names itself", issuer),
                EnvEntry("MCP_OAUTH_RESOURCE", "this server's URL: access tokens must be issued for it", resource),
                EnvEntry("MCP_OAUTH_SCOPES", "the scopes every call needs", " ".join(a.get("oauth_scopes") or [])),
                *OAUTH_SETTINGS,
            ]
        entries.append(WORKERS)
        if self.generation.seals_request_state or self.stateful_sessions:
            entries.append(self.replica_keys)
        entries.append(SERVER_ARGS)
        entries.extend(OBSERVABILITY_SETTINGS)
        for var in self.app_env:
            entries.append(EnvEntry(var["name"], default=var["default"], description=var["description"] or var["name"]))
        return entries

    @cached_property
    def stateful_sessions(self) -> bool:
        """Whether a client's session lives in one server process: SSE always, streamable-http
        when the sessions answer says so. mcp_sessions.py then routes each session's requests."""
        return self.answers["transport"] == "sse" or self.answers.get("sessions") == "stateful"

    @cached_property
    def replica_keys(self) -> EnvEntry:
        """The keys every replica shares: they seal multi-round-trip state and sign the routes in
        session ids, so where the orchestrator runs several the setting is required, in every file
        that reads .env (the workers of one container share one of their own without it)."""
        replicated = "replicas" in self.front.questions and self.answers.get("replicas", 1) > 1
        uses = []
        if self.generation.seals_request_state:
            uses.append("seals the state of a tool that asks the client something (2026-07-28 multi-round-trip)")
        if self.stateful_sessions:
            uses.append("signs the replica each session id names")
        return EnvEntry(
            "MCP_REPLICA_KEYS",
            default=None if replicated else "",
            description="The secret that "
            + " and ".join(uses)
            + ", the same in every replica: make one with "
            + REPLICA_KEY_COMMAND
            + ". To rotate, put the new one first and keep the old one after a comma for 10 minutes."
            + ("" if replicated else " Empty: the container makes one of its own (one replica only)."),
        )

    # the flat names the templates read

    def context(self) -> dict[str, Any]:
        """What the templates read besides the answers: each name here is read by a template
        (tests/test_model.py checks both ways)."""
        generation = self.generation
        module_path, class_name = generation.server_class.split(":")
        dockerfile = self.answers.get("dockerfile") or "Dockerfile"
        names: dict[str, Any] = {
            "deployment": self,
            "front": self.front,
            "compose_front": self.compose_front,
            "credential": self.credential,
            "answers_file": ANSWERS_FILE,
            "service_name": self.service_name,
            "nginx_id": self.nginx_id,
            "registry_host": registry_host(self.answers["image"]),
            "sdk_label": generation.label,
            "sdk_package": generation.package,
            "sdk_supported": generation.supported,
            "sdk_lowest": generation.lowest,
            "sdk_below": generation.below,
            "sdk_other_major": self.sdk_other_major,
            "server_class_import": f"from {module_path} import {class_name}",
            "server_class_name": class_name,
            "run_methods": list(generation.run_methods),
            "generation_transports": list(generation.transports),
            "endpoints": {name: path for name, (path, _) in TRANSPORTS.items()},
            "endpoint_path": self.endpoint_path,
            "client_type": self.client_type,
            "token_env_var": self.token_env_var,
            "app_env": self.app_env,
            "server_env": self.server_environment,
            "compose_env": self.compose_environment,
            "tokens_folder": TOKENS_FOLDER,
            # The file the dependencies are read from: the server's own for inline script metadata.
            "dependency_file": script_file(self.answers["server"])
            if self.answers.get("dependencies") == "script"
            else self.answers.get("dependencies", "requirements.txt"),
            "copy_paths": [str(path).rstrip("/") or path for path in self.answers.get("source_paths") or []],
            # BuildKit reads the ignore file named after the Dockerfile before the project's own
            # .dockerignore, which is written for other builds (and may keep out a README the
            # package build needs).
            "dockerignore_file": f"{dockerfile}.dockerignore",
            "uv_version": UV_VERSION,
            "poetry_version": POETRY_VERSION,
            "poetry_export_version": POETRY_EXPORT_VERSION,
            "observability_packages": list(OBSERVABILITY_PACKAGES),
            "metrics_port": METRICS_PORT,
            "public_url": self.public_url,
            "health": HEALTH,
            "stopping": STOPPING,
            "swarm": SWARM,
            "stack_variable_missing": STACK_VARIABLE_MISSING,
            "oauth_limits": OAUTH,
            "refusals_burst": REFUSALS_BURST,
            "refusals_per_second": REFUSALS_PER_SECOND,
            "seals_request_state": generation.seals_request_state,
            "stateful_sessions": self.stateful_sessions,
            "replica_key_command": REPLICA_KEY_COMMAND,
            "max_auto_workers": MAX_AUTO_WORKERS,
        }
        return names
