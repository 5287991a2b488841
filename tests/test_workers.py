"""Several processes serving one deployment: multi-round-trip state valid on each, and the
workers of one container, on this machine (the end-to-end suite runs the same on Swarm).

A tool that asks the client something (2026-07-28) returns an InputRequiredResult whose
requestState the SDK seals; the client's retry may reach another replica or worker. mcp 2.x's
MCPServer and fastmcp 4 seal with RequestStateSecurity.ephemeral(), a key per process, and so
does a low-level mcp 2.x server that adds the SDK's RequestStateBoundary as documented: the
servers here (tests/mrtr/) are run at the lowest and newest version of each, with and without
MCP_REPLICA_KEYS, so a release that moves that seam fails here.
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from conftest import render
from e2e.ports import free_port
from mcp_probe import MCP_HEADERS, TOOLS_CALL
from mcp_probe import ask_with_mcp2_client as ask
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import add_client, children, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
MRTR = Path(__file__).resolve().parent / "mrtr"
# The generations whose state is sealed per process, and a server of each with a tool that asks.
ASKING_SERVERS = {"mcp2-mcpserver": "mcp2_mcpserver.py", "mcp2-lowlevel": "mcp2_lowlevel.py", "fastmcp": "fastmcp4.py"}
# Their versions that seal (fastmcp 2 and 3, on mcp 1, have no multi-round-trip state).
SEALING = [
    version
    for version in sdk_versions()
    if version.sdk in ASKING_SERVERS and version.requirement.startswith(("mcp==2", "fastmcp==4"))
]
NEWEST = {version.sdk: version for version in SEALING}


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("workers"), config_file=None)
    made = {}
    for sdk, server in ASKING_SERVERS.items():
        project = render(copie, sdk=sdk, use_nginx=False)
        shutil.copy(MRTR / server, project / "server.py")
        made[sdk] = project
    return made


def health(base: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:  # a connection the killed worker had queued is reset
        return 0, str(error)


@pytest.mark.parametrize("version", SEALING, ids=[version.id for version in SEALING])
def test_state_sealed_by_one_replica_is_taken_by_another(projects, version, tmp_path):
    """Two copies of the server, as two replicas: each call's first round goes to one, the retry
    with the sealed state to the other. With the same MCP_REPLICA_KEYS every call succeeds;
    without it, none does (the SDK's own per-process key, which the wiring replaces)."""
    project, python = projects[version.sdk], sdk_python(version)
    key = secrets.token_hex(32)  # as example.env says to make it
    results = {}
    for keys in (key, ""):
        replicas = [tmp_path / f"replica-{n}-{bool(keys)}" for n in (1, 2)]
        for replica in replicas:
            shutil.copytree(project, replica)
        settings = {"MCP_REPLICA_KEYS": keys, "MCP_SERVE_WORKERS": "1"}
        with serving(replicas[0], python, **settings) as first, serving(replicas[1], python, **settings) as second:
            results[bool(keys)] = ask(urls=[first + "/mcp", second + "/mcp"], calls=10, split=True)
    assert (results[True]["ok"], results[True]["failed"]) == (10, 0), results[True]["errors"][:3]
    assert results[False]["ok"] == 0
    assert set(results[False]["errors"]) == {"MCPError: Invalid or expired requestState"}


@pytest.mark.parametrize("sdk", ASKING_SERVERS)
def test_workers_share_the_port_the_state_and_the_health_check(projects, sdk):
    """MCP_SERVE_WORKERS=2 without a key: both workers answer on the one port, a question asked by
    one is answered through the other (they share a key the container made), a killed worker is
    started again (the health check says so meanwhile), and SIGTERM stops them all."""
    with serving(projects[sdk], sdk_python(NEWEST[sdk]), MCP_SERVE_WORKERS="2") as base:
        workers = children(base.process.pid)
        assert len(workers) == 2
        report = ask(urls=[base + "/mcp"], calls=20, process_calls=20)
        assert (report["ok"], report["failed"]) == (20, 0), report["errors"][:3]
        assert set(map(int, report["processes"])) == set(workers)
        assert health(base) == (200, "ok")

        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while not (workers[0] not in (now := children(base.process.pid)) and len(now) == 2 and health(base)[0] == 200):
            assert time.monotonic() < deadline, health(base)
            time.sleep(0.2)
        restarted = children(base.process.pid)
        assert workers[0] not in restarted and workers[1] in restarted
        assert ask(urls=[base + "/mcp"], calls=4)["ok"] == 4
        base.process.send_signal(signal.SIGTERM)
        assert base.process.wait(timeout=30) == 0
    assert all(not Path(f"/proc/{pid}").exists() for pid in restarted)
    log = (projects[sdk] / "serve.log").read_text()
    assert "Worker 1 of 2 stopped (exit -9): starting it again" in log


def test_sigterm_lets_every_worker_finish_its_calls(projects):
    """Calls in progress on both workers when the container is stopped are answered, then all exit."""
    with serving(projects["mcp2-mcpserver"], sdk_python(NEWEST["mcp2-mcpserver"]), MCP_SERVE_WORKERS="2") as base:
        call = {**TOOLS_CALL, "params": {"name": "wait", "arguments": {"seconds": 2}}}
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            post = functools.partial(httpx.post, base + "/mcp", json=call, headers=MCP_HEADERS, timeout=30)
            answers = [pool.submit(post) for _ in range(8)]
            time.sleep(1)
            base.process.send_signal(signal.SIGTERM)
            responses = [answer.result() for answer in answers]
        assert base.process.wait(timeout=30) == 0
    assert [response.status_code for response in responses] == [200] * 8
    assert all("waited 2.0 s" in response.text for response in responses), responses[0].text


def test_the_refusal_limit_holds_for_all_the_workers_together(projects, tmp_path):
    """45 requests with a wrong token from one address, each on a connection of its own (so both
    workers answer some): 31 refused with 401, the rest with 429, as one process would answer."""
    project = tmp_path / "with-tokens"
    shutil.copytree(projects["mcp2-mcpserver"], project)
    token = add_client(project, "claude-code")
    python = sdk_python(NEWEST["mcp2-mcpserver"])
    with serving(project, python, MCP_AUTH="tokens", MCP_SERVE_WORKERS="2") as base:

        def call(token: str) -> int:
            headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
            return httpx.post(base + "/mcp", json=TOOLS_CALL, headers=headers, timeout=10).status_code

        statuses = [call("wrong") for _ in range(45)]
        valid = call(token)
    assert statuses[:31] == [401] * 31 and set(statuses[31:]) <= {401, 429}, statuses
    assert statuses.count(401) <= 33, statuses  # and one a second after the burst
    assert valid == 200


def test_a_worker_that_cannot_load_the_server_stops_them_all(projects, tmp_path):
    """Code that fails to load fails every worker alike: the first to fail stops the rest, and
    the container exits with its message instead of starting it again and again."""
    project = tmp_path / "broken"
    shutil.copytree(projects["mcp2-mcpserver"], project)
    (project / "server.py").write_text("raise RuntimeError('the database is unreachable')\n")
    environment = {**os.environ, "MCP_AUTH": "none", "MCP_SERVE_WORKERS": "2", "MCP_SERVE_PORT": str(free_port())}
    python = sdk_python(NEWEST["mcp2-mcpserver"])
    done = subprocess.run(
        [str(python), "mcp_serve.py"], cwd=project, env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "RuntimeError: the database is unreachable" in done.stderr
    assert "stopped before it served (exit 1): stopping" in done.stderr


@pytest.fixture(scope="module")
def mcp_serve(tmp_path_factory):
    """A rendered mcp_serve.py as a module, for its checks (plain functions): the mcp 1.x one, which
    this environment's SDK imports."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("module"), config_file=None)
    path = render(copie, sdk="mcp1-fastmcp", use_nginx=False) / "mcp_serve.py"
    spec = importlib.util.spec_from_file_location("rendered_mcp_serve", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "50000 100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
    ids=["v2-none", "v2-1.5", "v2-half", "v1-2", "v1-none", "no-cgroup"],
)
def test_the_cpu_limit_is_read_from_cgroup_v2_and_v1(mcp_serve, tmp_path, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert mcp_serve.cgroup_cpu_limit(tmp_path) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", 1),  # unset: one, as `python mcp_serve.py` on a laptop (the image sets auto)
        ("3", 3),
        ("0", "MCP_SERVE_WORKERS '0' is not a number of workers: expected auto or"),
        ("two", "MCP_SERVE_WORKERS 'two' is not a number of workers"),
    ],
)
def test_the_worker_count_is_checked(mcp_serve, monkeypatch, value, expected):
    monkeypatch.setenv("MCP_SERVE_WORKERS", value)
    if isinstance(expected, int):
        assert mcp_serve.worker_count() == expected
    else:
        with pytest.raises(SystemExit, match=expected):
            mcp_serve.worker_count()


def test_auto_counts_the_cpus_the_container_may_use(mcp_serve, monkeypatch):
    monkeypatch.setenv("MCP_SERVE_WORKERS", "auto")
    monkeypatch.setattr(mcp_serve.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(mcp_serve, "cgroup_cpu_limit", lambda: 1.5)
    assert mcp_serve.worker_count() == 2
    monkeypatch.setattr(mcp_serve, "cgroup_cpu_limit", lambda: None)
    assert mcp_serve.worker_count() == mcp_serve.MAX_AUTO_WORKERS
    monkeypatch.setattr(mcp_serve, "cgroup_cpu_limit", lambda: 0.25)
    assert mcp_serve.worker_count() == 1


@pytest.mark.parametrize("second_key_bytes", [None, 8], ids=["one-short-key", "a-short-second-key"])
def test_a_short_request_state_key_is_refused_in_one_line(projects, second_key_bytes):
    keys = "short" if second_key_bytes is None else f"{secrets.token_hex(32)},{secrets.token_hex(second_key_bytes)}"
    environment = {**os.environ, "MCP_AUTH": "none", "MCP_REPLICA_KEYS": keys}
    done = subprocess.run(
        [str(sdk_python(NEWEST["mcp2-mcpserver"])), "mcp_serve.py"],
        cwd=projects["mcp2-mcpserver"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    number = 1 if keys == "short" else 2
    assert done.stderr.strip().splitlines() == [
        f"MCP_REPLICA_KEYS: key {number} has {len(keys.split(',')[-1])} bytes; each needs at least 32:"
        " make one with python3 -c 'import secrets; print(secrets.token_hex(32))'"
    ]
