"""Every generation x transport x (nginx with TLS | direct): built, run by its compose file, called for real.

Each generation is deployed from an existing server repository (tests/fixtures) committed in git,
with the answers `copier copy --defaults` reads from its code:

  mcp1-fastmcp    fastmcp_repo   module-level FastMCP, requirements.txt with an unbounded `mcp`
  mcp1-lowlevel   lowlevel_repo  low-level Server in a src/ folder with a sibling module
  mcp2-mcpserver  mcp2_factory   a factory in a package, pyproject.toml dependencies, no lock
  mcp2-lowlevel   mcp2_lowlevel  on_* handlers, a Dockerfile of its own (ours is Dockerfile.mcp)
  fastmcp         fastmcp4_app   fastmcp 4 in a src layout, uv.lock
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import anyio
import httpx
import pytest
from answer_sets import ENDPOINTS, TRANSPORTS
from fixture_repos import CONTRACT_TOOLS, CUSTOM_ROUTES, DATA, gitignore_after
from mcp_probe import (
    ask_with_mcp2_client,
    asked_in_sessions,
    list_and_call,
    mcp_session,
    probe_with_mcp2_client,
    progress_timing,
    result_text,
)

from extensions.deployment import MAX_AUTO_WORKERS, parse_env_var
from extensions.generations import GENERATIONS, is_supported

from .boundary import Variant, request_bytes, send, variants
from .debian import ensure_packages
from .deployment import ENV_VALUES, URL_PREFIX, Combination, deploy
from .ports import free_port

GENERATION_FIXTURE = {
    "mcp1-fastmcp": "fastmcp_repo",
    "mcp1-lowlevel": "lowlevel_repo",
    "mcp2-mcpserver": "mcp2_factory",
    "mcp2-lowlevel": "mcp2_lowlevel",
    "fastmcp": "fastmcp4_app",
}
COMBINATIONS = [
    Combination(fixture, transport, nginx)
    for fixture in GENERATION_FIXTURE.values()
    for transport in TRANSPORTS
    for nginx in (True, False)
]
PROXIED = [c for c in COMBINATIONS if c.nginx]
# The fixtures with a tool that asks the user (2026-07-28 multi-round-trip state, sealed by the SDK).
ASKING_FIXTURES = {"mcp2_factory", "mcp2_lowlevel", "fastmcp4_app"}
STREAMABLE = [c for c in COMBINATIONS if c.transport == "streamable-http"]
# What a request without a valid credential may get, from nginx or the server behind it: never 2xx, never 5xx.
REFUSED = {301, 400, 401, 404, 405, 413, 429, 431, 494}
# The one path open to all: the health check, which reaches no tool and answers "ok".
OPEN_VARIANTS = {"health-under-prefix"}


@pytest.fixture(scope="session")
def deployments(tmp_path_factory, docker_engine, docker_build_flags, tls_certs):
    """Every combination, built and started on first use, shared by the tests, all stopped at the end.

    Built one after the other (the builds take the CPU), then started together: their health checks
    run side by side instead of one after the other."""
    running: dict[str, object] = {}

    def start_all() -> None:
        for combination in COMBINATIONS:
            workdir = tmp_path_factory.mktemp(combination.id)
            deployment = deploy(combination, workdir, docker_engine, tls_certs)
            running[combination.id] = deployment
            deployment.build_seconds = deployment.build(docker_build_flags)
        for deployment in running.values():
            deployment.compose_up()
        for deployment in running.values():
            deployment.healthy_after = deployment.wait_health("healthy")
            if deployment.combination.nginx:
                deployment.start_nginx(deployment.repo.parent / "nginx")

    failed: list[BaseException] = []

    def get(combination: Combination):
        if failed:
            raise RuntimeError("the deployments could not be started (see the first test that asked)") from failed[0]
        if not running:
            try:
                start_all()
            except BaseException as error:
                failed.append(error)
                raise
        return running[combination.id]

    yield get
    for deployment in running.values():
        deployment.stop()


def expected_workers() -> int:
    """The image's MCP_SERVE_WORKERS=auto without a CPU limit: a worker per CPU of this machine."""
    return min(len(os.sched_getaffinity(0)), MAX_AUTO_WORKERS)


def _ids(combinations):
    return [c.id for c in combinations]


def test_every_generation_is_deployed():
    assert set(GENERATION_FIXTURE) == set(GENERATIONS)


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_ids(COMBINATIONS))
def test_compose_runs_it_healthy_and_it_answers_directly(deployments, combination):
    deployment = deployments(combination)
    assert deployment.health() == "healthy"
    direct = {"headers": deployment.auth_headers}
    tools, text = list_and_call(deployment.direct_url, combination.transport, **direct)
    assert CONTRACT_TOOLS <= set(tools)
    assert text == "5"
    # The sibling module or package made it into the image, and .env reached the server through compose.
    forecast = list_and_call(deployment.direct_url, combination.transport, "get_forecast", {"city": "Oslo"}, **direct)
    assert forecast[1] == "Sunny in Oslo"
    declared = {parse_env_var(item)["name"] for item in DATA.get(combination.fixture, {}).get("env_vars", [])}
    if "UNITS" in declared:
        units = list_and_call(deployment.direct_url, combination.transport, "get_setting", {"name": "UNITS"}, **direct)
        assert units[1] == "metric"
    if "WEATHER_API_KEY" in declared:
        key = list_and_call(
            deployment.direct_url, combination.transport, "get_setting", {"name": "WEATHER_API_KEY"}, **direct
        )
        assert key[1] == ENV_VALUES["WEATHER_API_KEY"]
    # The installed SDK is the answered generation's (fastmcp_repo's unbounded `mcp` got 1.x).
    generation = GENERATIONS[deployment.answers["sdk"]]
    installed = deployment.engine.docker(
        "exec",
        deployment.service,
        "python",
        "-c",
        f"import importlib.metadata as m; print(m.version('{generation.package}'))",
    )
    assert is_supported(generation, installed.strip()), installed
    report = probe_with_mcp2_client(
        deployment.direct_url, combination.transport, tool="lifespan_entries", arguments={}, **direct
    )
    assert CONTRACT_TOOLS <= set(report["tools"])
    if combination.transport == "streamable-http":
        # Many requests so far, one lifespan: entered once for the process, not per request.
        assert report["text"] == "1"
    workers = expected_workers()
    log = deployment.logs()
    assert (f"Starting {workers} workers" in log) == (workers > 1), log[-2000:]
    if combination.fixture in ASKING_FIXTURES and combination.transport == "streamable-http":
        # A tool that asks the user: its retries reach either worker, which share the container's key.
        report = ask_with_mcp2_client(
            urls=[deployment.direct_url],
            calls=20,
            tool="forecast_for_asked_city",
            answer={"city": "Oslo"},
            expected="Sunny in Oslo",
            headers=deployment.auth_headers,
        )
        assert (report["ok"], report["failed"]) == (20, 0), report["errors"][:3]
    if combination.fixture == "mcp2_factory" and combination.transport == "sse":
        # SSE sessions live in one worker each, and ask the client in the middle of a call (a
        # 2025-11-25 client: a request over the session): every message of a session reaches its
        # worker, whichever the kernel gave its connection.
        report = asked_in_sessions(deployment.direct_url, "sse", sessions=4, calls=5, headers=deployment.auth_headers)
        assert (report["ok"], report["failed"], report["new_sessions"]) == (20, 0, 0), report["errors"][:3]
    if combination.fixture in CUSTOM_ROUTES:
        # A custom route of the server's own needs the credential too (only /healthz is open).
        status = f"http://127.0.0.1:{deployment.answers['port']}/status"
        assert httpx.get(status, headers=deployment.auth_headers, timeout=10).text == "ok"


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_ids(COMBINATIONS))
def test_retrofit_kept_every_user_file(deployments, combination):
    deployment = deployments(combination)
    for name, before in deployment.user_files_before.items():
        expected = gitignore_after(before, deployment.checks_tokens) if name == ".gitignore" else before
        assert (deployment.repo / name).read_bytes() == expected, f"{name} changed"


DIRECT = [c for c in COMBINATIONS if not c.nginx]


@pytest.mark.parametrize("combination", DIRECT, ids=_ids(DIRECT))
def test_the_server_checks_tokens_from_the_mounted_file(deployments, combination):
    """auth=tokens: the container reads mcp-tokens/ (mounted read-only); a client added or revoked with
    DEPLOYMENT.md's commands counts at once, without a restart or a rebuild."""
    deployment = deployments(combination)
    url, transport = deployment.direct_url, combination.transport
    started = deployment.engine.docker("inspect", "--format", "{{.State.StartedAt}}", deployment.service)
    refused = httpx.post(url, json={}, headers={"Authorization": f"Bearer {'0' * 64}"}, timeout=10)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert httpx.post(url, json={}, timeout=10).status_code == 401

    second = deployment.add_client("second-client")
    assert list_and_call(url, transport, headers={"Authorization": f"Bearer {second}"})[1] == "5"
    revoke = re.search(r"\(`(sed -i [^`]+)`\)", (deployment.repo / "DEPLOYMENT.md").read_text()).group(1)
    subprocess.run(["sh", "-c", revoke.replace("claude-code", "second-client")], cwd=deployment.repo, check=True)
    assert httpx.post(url, json={}, headers={"Authorization": f"Bearer {second}"}, timeout=10).status_code == 401
    # The first client still works; the container never restarted.
    assert list_and_call(url, transport, headers=deployment.auth_headers)[1] == "5"
    assert deployment.engine.docker("inspect", "--format", "{{.State.StartedAt}}", deployment.service) == started
    log = deployment.logs()
    assert second not in log and deployment.client_token not in log


@pytest.mark.parametrize("combination", PROXIED[:1], ids=_ids(PROXIED[:1]))
def test_check_deployment_passes_through_nginx_and_names_what_is_broken(deployments, combination, tls_certs):
    """The rendered check_deployment.py against the live URL: TLS, 401, tools, latency; then broken variants."""
    deployment = deployments(combination)

    def check(url: str, **env: str) -> tuple[int, str]:
        command = [sys.executable, "check_deployment.py", url, "--token", deployment.client_token, "--tool", "add"]
        command.append("--arguments")
        done = subprocess.run(
            [*command, '{"a": 2, "b": 3}'],
            cwd=deployment.repo,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout

    trusted = {"SSL_CERT_FILE": str(tls_certs.ca_bundle)}
    code, out = check(deployment.proxied_url, **trusted)
    assert code == 0 and "ok    TLS        certificate valid for localhost" in out, out
    assert "add answered" in out and "401 without a token" in out
    code, out = check(deployment.proxied_url)  # the system's CAs do not know the test CA
    assert code == 1 and "FAIL  TLS        the certificate of localhost is not valid" in out, out
    code, out = check(f"https://127.0.0.1:{deployment.answers['port']}/mcp", **trusted)  # the container's plain port
    assert code == 1 and "no TLS at" in out, out
    code, out = check(deployment.proxied_base + "/sse", **trusted)
    assert code == 1 and "the URL ends in" in out, out
    # Nothing behind nginx (the container stopped): the 502 is named for what it means.
    deployment.engine.docker("stop", deployment.service)
    try:
        code, out = check(deployment.proxied_url, **trusted)
        assert code == 1 and "the proxy in front answered 502: nothing behind it answers" in out, out
    finally:
        deployment.engine.docker("start", deployment.service)
        deployment.wait_serving()
        deployment.wait_health("healthy")


@pytest.mark.parametrize("combination", PROXIED, ids=_ids(PROXIED))
def test_through_nginx_with_tls_and_a_token(deployments, combination, tls_certs):
    deployment = deployments(combination)
    auth = deployment.auth_headers
    tools, text = list_and_call(
        deployment.proxied_url, combination.transport, headers=auth, verify=tls_certs.ssl_context()
    )
    assert "add" in tools and text == "5"
    # A client cannot choose the address the server logs for it.
    forged = {**auth, "X-Forwarded-For": "203.0.113.66"}
    list_and_call(deployment.proxied_url, combination.transport, headers=forged, verify=tls_certs.ssl_context())
    assert "203.0.113.66" not in deployment.logs()
    report = probe_with_mcp2_client(
        deployment.proxied_url, combination.transport, headers=auth, ca_file=str(tls_certs.ca_bundle)
    )
    assert (report["tools"], report["text"]) == (sorted(tools), "5")
    if combination.fixture in CUSTOM_ROUTES:
        status = httpx.get(f"{deployment.proxied_base}/status", headers=auth, verify=tls_certs.ssl_context())
        assert status.text == "ok"
    if combination.transport == "sse":
        # The endpoint event carries the prefix, so the client's POSTs go back through nginx.
        with httpx.stream("GET", deployment.proxied_url, headers=auth, verify=tls_certs.ssl_context(), timeout=10) as r:
            lines = r.iter_lines()
            assert next(lines) == "event: endpoint"
            assert next(lines).startswith(f"data: /{URL_PREFIX}/messages/?session_id=")


def boundary_request(deployment, variant: Variant) -> bytes:
    return request_bytes(variant, endpoint=ENDPOINTS[deployment.transport], prefix=URL_PREFIX)


def answered_calls(log: str) -> list[str]:
    """The server's access-log lines of requests it answered with 2xx, but for the health check:
    what got past the credential check (mcp_serve.py writes a line per request)."""
    lines = re.findall(r'^INFO: +\S+ - "(\S+ \S+) HTTP/[0-9.]+" (\d{3})$', log, re.M)
    return [f"{request} {status}" for request, status in lines if status.startswith("2") and "/healthz" not in request]


def as_a_client_asks(deployment, headers: tuple[tuple[str, str], ...]) -> Variant:
    """POST a JSON-RPC message (streamable-http), or open the event stream (SSE)."""
    if deployment.transport == "sse":
        return Variant("client", method="GET", headers=headers, body=b"")
    return Variant("client", headers=headers)


@pytest.mark.parametrize("combination", PROXIED, ids=_ids(PROXIED))
def test_nothing_without_a_valid_token_gets_past_nginx_and_the_server(deployments, combination, tls_certs):
    """Every request without a valid credential is refused, by nginx or by the server's own check
    behind it (nginx passes Authorization on); none is answered as a call."""
    deployment = deployments(combination)
    answered_before = answered_calls(deployment.logs())
    answered = {}
    tried = variants(deployment.client_token)
    assert len(tried) >= 40
    for number, variant in enumerate(tried, start=2):
        port = deployment.answers["http_port" if variant.plain_http else "https_port"]
        context = None if variant.plain_http else tls_certs.ssl_context()
        # One client address per variant: the server's limit on refusals, per address, stays out of it.
        answered[variant.name] = send(
            port, boundary_request(deployment, variant), source=f"127.0.1.{number}", context=context
        )
    for name, response in answered.items():
        assert response is not None, f"{name}: no answer"
        if name in OPEN_VARIANTS:
            assert response.status == 200, f"{name}: {response.status}"
            continue
        assert response.status in REFUSED, f"{name}: {response.status}"
        if response.status == 301:
            assert response.header("Location").startswith("https://localhost:"), name
            continue
        assert response.header("Strict-Transport-Security") == "max-age=63072000", name
        if response.status == 401:
            assert response.header("WWW-Authenticate").startswith(f'Bearer realm="{deployment.service}"'), name
    for path in (
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
        f"/.well-known/oauth-protected-resource/{URL_PREFIX}/mcp",
        f"/{URL_PREFIX}/.well-known/oauth-authorization-server",
    ):
        verify = tls_certs.ssl_context()
        response = httpx.get(f"https://localhost:{deployment.answers['https_port']}{path}", verify=verify, timeout=10)
        assert response.status_code == 404, path
    time.sleep(0.5)
    # Docker's own health probes (GET /healthz) go on meanwhile; no other request was answered.
    assert answered_calls(deployment.logs()) == answered_before, "a request without a valid token got in"


@pytest.mark.parametrize("combination", PROXIED, ids=_ids(PROXIED))
def test_refusals_are_rate_limited_without_slowing_a_valid_client(deployments, combination, tls_certs):
    deployment = deployments(combination)
    port, source = deployment.answers["https_port"], "127.0.2.1"
    refused = boundary_request(deployment, Variant("wrong-token", headers=(("Authorization", "Bearer wrong"),)))
    valid = boundary_request(
        deployment, as_a_client_asks(deployment, (("Authorization", f"Bearer {deployment.client_token}"),))
    )

    started = time.monotonic()
    statuses = [send(port, refused, source=source, context=tls_certs.ssl_context()).status for _ in range(45)]
    refusing = time.monotonic() - started
    started = time.monotonic()
    answer = send(port, valid, source=source, context=tls_certs.ssl_context())
    elapsed = time.monotonic() - started

    # 31 in a row (the first and a burst of 30), then one more for each second that passed; 429 for the
    # rest: counted for the container, whichever of its workers answers.
    assert statuses[:31] == [401] * 31 and set(statuses) == {401, 429}, statuses
    assert statuses.count(401) <= 31 + int(refusing) + 1, (statuses, refusing)
    assert answer.status == 200 and elapsed < 1.0, (answer.status, elapsed)
    # Another address is not limited by this one's refusals (with a token of its own: nginx counts
    # requests per token).
    other = boundary_request(deployment, Variant("wrong-token", headers=(("Authorization", "Bearer wrong-too"),)))
    assert send(port, other, source="127.0.2.2", context=tls_certs.ssl_context()).status == 401


@pytest.mark.parametrize("combination", PROXIED, ids=_ids(PROXIED))
def test_the_server_logs_the_client_address_nginx_saw(deployments, combination, tls_certs):
    deployment = deployments(combination)
    forged = (
        ("Authorization", f"Bearer {deployment.client_token}"),
        ("X-Forwarded-For", "203.0.113.66"),
        ("X-Real-IP", "203.0.113.67"),
    )
    request = boundary_request(deployment, as_a_client_asks(deployment, forged))
    assert (
        send(deployment.answers["https_port"], request, source="127.0.3.77", context=tls_certs.ssl_context()).status
        == 200
    )
    time.sleep(0.5)
    log = deployment.logs()
    assert "127.0.3.77:" in log and "203.0.113.6" not in log


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_ids(COMBINATIONS))
def test_progress_is_streamed_before_the_result(deployments, combination, tls_certs):
    deployment = deployments(combination)
    if combination.nginx:
        kwargs = {"headers": deployment.auth_headers, "verify": tls_certs.ssl_context()}
        timing = progress_timing(deployment.proxied_url, combination.transport, steps=3, wait_seconds=3.0, **kwargs)
    else:
        kwargs = {"headers": deployment.auth_headers}
        timing = progress_timing(deployment.direct_url, combination.transport, steps=3, wait_seconds=3.0, **kwargs)
    assert timing["notifications"] == 3
    assert timing["first_progress_after"] < timing["result_after"] - 2.0, timing


@pytest.mark.parametrize("combination", STREAMABLE, ids=_ids(STREAMABLE))
def test_stateless_session_survives_a_container_restart(deployments, combination, tls_certs):
    deployment = deployments(combination)
    if combination.nginx:
        url, kwargs = deployment.proxied_url, {"headers": deployment.auth_headers, "verify": tls_certs.ssl_context()}
    else:
        url, kwargs = deployment.direct_url, {"headers": deployment.auth_headers}

    async def call_across_restart():
        async with mcp_session(url, combination.transport, **kwargs) as session:
            before = await session.call_tool("add", {"a": 1, "b": 1})
            await anyio.to_thread.run_sync(lambda: deployment.engine.docker("restart", deployment.service))
            await anyio.to_thread.run_sync(deployment.wait_serving)
            after = await session.call_tool("add", {"a": 2, "b": 2})
            return before, after

    before, after = anyio.run(call_across_restart)
    assert result_text(before) == "2"
    assert not after.isError and result_text(after) == "4"
    assert "Session not found" not in deployment.logs()
    deployment.wait_health("healthy")


def test_health_check_reports_a_server_bound_to_loopback(deployments, docker_engine, docker_cleanup):
    """The deliberately broken variant: MCP_SERVE_HOST=127.0.0.1 inside the container."""
    deployment = deployments(COMBINATIONS[0])
    name = docker_cleanup.container(docker_cleanup.unique("loopback"))
    host_port = free_port()
    published = f"127.0.0.1:{host_port}:{deployment.answers['port']}"
    tokens = f"{deployment.repo / 'mcp-tokens'}:/app/mcp-tokens:ro"  # the image checks tokens: it needs its file
    # The image's own probe, sooner: how soon Docker gives up is not what is tested here.
    sooner = ["--health-interval", "1s", "--health-start-period", "1s"]
    docker_engine.docker(
        "run",
        "-d",
        "--name",
        name,
        "-e",
        "MCP_SERVE_HOST=127.0.0.1",
        "-p",
        published,
        "-v",
        tokens,
        *sooner,
        deployment.image,
    )
    deployment.wait_health("unhealthy", container=name, timeout=120)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"http://127.0.0.1:{host_port}/mcp", json={}, timeout=5)
    assert "127.0.0.1" in deployment.logs(name)


# --- DEPLOYMENT.md's commands, as printed -------------------------------------------------------

# systemd does not run here: this stands in for `systemctl reload nginx` (and nothing else),
# starting the system nginx on the first reload.
SYSTEMCTL_STAND_IN = """#!/bin/sh
[ "$*" = "reload nginx" ] || { echo "systemctl stand-in: only 'reload nginx'" >&2; exit 1; }
if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then exec nginx -s reload; fi
exec nginx
"""
NOT_RUN = ("sudo certbot ",)  # needs a public name and Let's Encrypt; the answers point at test certificates


def documented_block(deployment_md: str, section: str) -> list[str]:
    """The command lines of a section's ```sh block, exactly as DEPLOYMENT.md prints them."""
    text = deployment_md.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    return block.splitlines()


def client_url(deployment_md: str) -> str:
    return re.search(r"^\| clients \| `([^`]+)` \|$", deployment_md, re.M).group(1)


def system_nginx_workers(pid_file: Path) -> set[int]:
    """The worker processes of the nginx whose master wrote pid_file (the tests' own nginx have theirs)."""
    master = pid_file.read_text().strip() if pid_file.is_file() else ""
    if not master:
        return set()
    return {
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if (fields := read_quietly(stat).rsplit(b")", 1)[-1].split()) and fields[1] == master.encode()
    }


def read_quietly(path: Path) -> bytes:
    """A /proc file, or nothing for a process gone meanwhile."""
    try:
        return path.read_bytes()
    except OSError:
        return b""


@pytest.mark.parametrize("combination", PROXIED[:2], ids=_ids(PROXIED[:2]))
def test_the_nginx_commands_of_deployment_md_work_as_printed(deployments, combination, tls_certs, tmp_path):
    """Run as root in a mount namespace of their own, over a copy of /etc/nginx: the system's stays as it was."""
    ensure_packages("nginx", "sudo", "openssl")
    pid = Path("/run/nginx.pid")
    if pid.is_file() and subprocess.run(["kill", "-0", pid.read_text().strip()], capture_output=True).returncode == 0:
        pytest.skip("a system nginx is running on this machine: the test would reload and stop it")
    deployment = deployments(combination)
    document = (deployment.repo / "DEPLOYMENT.md").read_text()
    lines = documented_block(document, "nginx and HTTPS")
    assert [line for line in lines if line.startswith(NOT_RUN)], "the certbot line moved: update NOT_RUN"
    commands = "\n".join(line for line in lines if not line.startswith(NOT_RUN))

    etc_nginx, bin_dir = tmp_path / "etc-nginx", tmp_path / "bin"
    shutil.copytree("/etc/nginx", etc_nginx, symlinks=True)
    (etc_nginx / "sites-enabled" / "default").unlink(missing_ok=True)  # port 80 is not ours to take
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(SYSTEMCTL_STAND_IN)
    (bin_dir / "systemctl").chmod(0o755)
    # /usr/local/sbin comes first in sudo's secure_path, so `sudo systemctl` finds the stand-in.
    script = (
        f"set -e\nmount --bind {etc_nginx} /etc/nginx\nmount --bind {bin_dir} /usr/local/sbin\n"
        f"cd {deployment.repo}\n{commands}\n"
    )

    def run_as_printed() -> None:
        before = system_nginx_workers(pid)
        run = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        # `systemctl reload nginx` returns once the master is signalled, before it has started new
        # workers and the old ones have gone; a keep-alive connection an old one held is closed under
        # the client's next POST (CI21: the SDK's SSE client then waited for ever). Until the old
        # workers are gone and new ones serve:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = system_nginx_workers(pid)
            if now and not now & before:
                return
            time.sleep(0.1)
        raise AssertionError(f"nginx's workers {sorted(before)} still there after the reload, now {sorted(now)}")

    deployment.nginx.stop()  # the tests' own nginx holds the ports
    try:
        run_as_printed()
        # The system's nginx, configured as printed, passes the client's token on to the server.
        url = client_url(document)
        headers = deployment.auth_headers
        assert list_and_call(url, combination.transport, headers=headers, verify=tls_certs.ssl_context())[1] == "5"
        wrong = {"Authorization": f"Bearer {deployment.client_token[::-1]}"}
        assert httpx.get(url, headers=wrong, verify=tls_certs.ssl_context()).status_code == 401
        # Running the block again (a new configuration, say) changes nothing a client sees.
        run_as_printed()
        assert list_and_call(url, combination.transport, headers=headers, verify=tls_certs.ssl_context())[1] == "5"
    finally:
        if pid.is_file() and pid.read_text().strip():
            subprocess.run(["kill", "-QUIT", pid.read_text().strip()], check=False)
            for _ in range(100):
                if not pid.exists():
                    break
                time.sleep(0.1)
        deployment.nginx.start(wait_ports=(deployment.answers["https_port"],))
