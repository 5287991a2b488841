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

import time

import anyio
import httpx
import pytest
from answer_sets import TRANSPORTS
from fixture_repos import CONTRACT_TOOLS, CUSTOM_ROUTES, DATA, gitignore_after
from mcp_probe import list_and_call, mcp_session, probe_with_mcp2_client, progress_timing, result_text

from extensions.answers import parse_env_var
from extensions.generations import GENERATIONS, is_supported

from .deployment import ENV_VALUES, TOKEN, URL_PREFIX, Combination, deploy
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
STREAMABLE = [c for c in COMBINATIONS if c.transport == "streamable-http"]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="session")
def deployments(tmp_path_factory, docker_engine, docker_build_flags, tls_certs):
    """Deployments built and started on first use, shared by the tests, all stopped at the end."""
    running = {}

    def get(combination: Combination):
        if combination.id not in running:
            workdir = tmp_path_factory.mktemp(combination.id)
            deployment = deploy(combination, workdir, docker_engine, tls_certs)
            running[combination.id] = deployment
            deployment.build_seconds = deployment.build(docker_build_flags)
            deployment.compose_up()
            deployment.healthy_after = deployment.wait_health("healthy")
            if combination.nginx:
                deployment.start_nginx(workdir / "nginx")
        return running[combination.id]

    yield get
    for deployment in running.values():
        deployment.stop()


def without_health_probes(log: str) -> list[str]:
    return [line for line in log.splitlines() if "/healthz" not in line]


def _ids(combinations):
    return [c.id for c in combinations]


def test_every_generation_is_deployed():
    assert set(GENERATION_FIXTURE) == set(GENERATIONS)


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_ids(COMBINATIONS))
def test_compose_runs_it_healthy_and_it_answers_directly(deployments, combination):
    deployment = deployments(combination)
    assert deployment.health() == "healthy"
    tools, text = list_and_call(deployment.direct_url, combination.transport)
    assert CONTRACT_TOOLS <= set(tools)
    assert text == "5"
    # The sibling module or package made it into the image, and .env reached the server through compose.
    forecast = list_and_call(deployment.direct_url, combination.transport, "get_forecast", {"city": "Oslo"})
    assert forecast[1] == "Sunny in Oslo"
    declared = {parse_env_var(item)["name"] for item in DATA.get(combination.fixture, {}).get("env_vars", [])}
    if "UNITS" in declared:
        units = list_and_call(deployment.direct_url, combination.transport, "get_setting", {"name": "UNITS"})
        assert units[1] == "metric"
    if "WEATHER_API_KEY" in declared:
        key = list_and_call(deployment.direct_url, combination.transport, "get_setting", {"name": "WEATHER_API_KEY"})
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
    report = probe_with_mcp2_client(deployment.direct_url, combination.transport, tool="lifespan_entries", arguments={})
    assert CONTRACT_TOOLS <= set(report["tools"])
    if combination.transport == "streamable-http":
        # Many requests so far, one lifespan: entered once for the process, not per request.
        assert report["text"] == "1"
    if combination.fixture in CUSTOM_ROUTES:
        assert httpx.get(f"http://127.0.0.1:{deployment.answers['port']}/status", timeout=10).text == "ok"


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_ids(COMBINATIONS))
def test_retrofit_kept_every_user_file(deployments, combination):
    deployment = deployments(combination)
    for name, before in deployment.user_files_before.items():
        expected = gitignore_after(before) if name == ".gitignore" else before
        assert (deployment.repo / name).read_bytes() == expected, f"{name} changed"


@pytest.mark.parametrize("combination", PROXIED, ids=_ids(PROXIED))
def test_through_nginx_with_tls_and_a_token(deployments, combination, tls_certs):
    deployment = deployments(combination)
    tools, text = list_and_call(
        deployment.proxied_url, combination.transport, headers=AUTH, verify=tls_certs.ssl_context()
    )
    assert "add" in tools and text == "5"
    # A client cannot choose the address the server logs for it.
    forged = {**AUTH, "X-Forwarded-For": "203.0.113.66"}
    list_and_call(deployment.proxied_url, combination.transport, headers=forged, verify=tls_certs.ssl_context())
    assert "203.0.113.66" not in deployment.logs()
    report = probe_with_mcp2_client(
        deployment.proxied_url, combination.transport, headers=AUTH, ca_file=str(tls_certs.ca_bundle)
    )
    assert (report["tools"], report["text"]) == (sorted(tools), "5")
    if combination.fixture in CUSTOM_ROUTES:
        status = httpx.get(f"{deployment.proxied_base}/status", headers=AUTH, verify=tls_certs.ssl_context())
        assert status.text == "ok"
    if combination.transport == "sse":
        # The endpoint event carries the prefix, so the client's POSTs go back through nginx.
        with httpx.stream("GET", deployment.proxied_url, headers=AUTH, verify=tls_certs.ssl_context(), timeout=10) as r:
            lines = r.iter_lines()
            assert next(lines) == "event: endpoint"
            assert next(lines).startswith(f"data: /{URL_PREFIX}/messages/?session_id=")


@pytest.mark.parametrize("combination", PROXIED, ids=_ids(PROXIED))
def test_nginx_refuses_without_a_valid_token_before_the_server(deployments, combination, tls_certs):
    deployment = deployments(combination)
    verify = tls_certs.ssl_context()
    logged_before = deployment.logs()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    refused = (
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN.upper()}"},  # nginx compares strings case-insensitively; ours do not
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
    )
    for headers in refused:
        if combination.transport == "sse":
            response = httpx.get(deployment.proxied_url, headers=headers, verify=verify, timeout=10)
        else:
            response = httpx.post(deployment.proxied_url, json=body, headers=headers, verify=verify, timeout=10)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    for path in (
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-authorization-server",
        f"/.well-known/oauth-protected-resource/{URL_PREFIX}/mcp",
        f"/{URL_PREFIX}/.well-known/oauth-authorization-server",
    ):
        response = httpx.get(f"https://localhost:{deployment.answers['https_port']}{path}", verify=verify, timeout=10)
        assert response.status_code == 404, path
    plain = httpx.get(f"http://localhost:{deployment.answers['http_port']}/{URL_PREFIX}/mcp", timeout=10)
    assert plain.status_code == 301 and plain.headers["Location"].startswith("https://localhost:")
    time.sleep(0.5)
    # Docker's own health probes (GET /healthz) go on meanwhile; nothing else may reach the server.
    assert without_health_probes(deployment.logs()) == without_health_probes(logged_before), "a refused request got in"


@pytest.mark.parametrize("combination", COMBINATIONS, ids=_ids(COMBINATIONS))
def test_progress_is_streamed_before_the_result(deployments, combination, tls_certs):
    deployment = deployments(combination)
    if combination.nginx:
        kwargs = {"headers": AUTH, "verify": tls_certs.ssl_context()}
        timing = progress_timing(deployment.proxied_url, combination.transport, steps=3, wait_seconds=3.0, **kwargs)
    else:
        timing = progress_timing(deployment.direct_url, combination.transport, steps=3, wait_seconds=3.0)
    assert timing["notifications"] == 3
    assert timing["first_progress_after"] < timing["result_after"] - 2.0, timing


@pytest.mark.parametrize("combination", STREAMABLE, ids=_ids(STREAMABLE))
def test_stateless_session_survives_a_container_restart(deployments, combination, tls_certs):
    deployment = deployments(combination)
    if combination.nginx:
        url, kwargs = deployment.proxied_url, {"headers": AUTH, "verify": tls_certs.ssl_context()}
    else:
        url, kwargs = deployment.direct_url, {}

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
    """The deliberately broken variant: MCP_HOST=127.0.0.1 inside the container."""
    deployment = deployments(COMBINATIONS[0])
    name = docker_cleanup.container(docker_cleanup.unique("loopback"))
    host_port = free_port()
    published = f"127.0.0.1:{host_port}:{deployment.answers['port']}"
    docker_engine.docker("run", "-d", "--name", name, "-e", "MCP_HOST=127.0.0.1", "-p", published, deployment.image)
    deployment.wait_health("unhealthy", container=name, timeout=120)
    with pytest.raises(httpx.TransportError):
        httpx.post(f"http://127.0.0.1:{host_port}/mcp", json={}, timeout=5)
    assert "127.0.0.1" in deployment.logs(name)
