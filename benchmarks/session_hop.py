"""What a session's request costs when it reaches another replica than its own (mcp_sessions.py
passes it on), on this machine, without Docker.

The mcp2_factory fixture, rendered with `sessions: stateful`, is served by two copies of the
rendered mcp_serve.py (one worker each, a shared MCP_REPLICA_KEYS), as two replicas. A session is
opened on the first; wrk (C, Debian's package, one thread) then sends tools/call add(2, 3) in that
session to the first (its own process) and to the second (which passes each request on over TCP).
The stateless render of the same server is the reference. Rounds alternate the order; the figures
are medians over rounds.
"""

from __future__ import annotations

import random
import secrets
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from statistics import median

import httpx
from e2e.certs import make_certs
from e2e.debian import ensure_packages
from e2e.ports import free_port
from fixture_repos import SDK_REQUIREMENT
from peers import process_on_port, render
from sdk_envs import EXTRAS, environment
from workers import healthy, wrk
from wrk_load import write_tools_call_script

HEADING = "## A session's request on another replica (local processes, no Docker)"
FIXTURE = "mcp2_factory"
CLIENTS = 16
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "wrk", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}


def open_session(url: str) -> str:
    """initialize and notifications/initialized, as a client opens a session: its id."""
    answer = httpx.post(url, json=INITIALIZE, headers=HEADERS, timeout=10)
    session = answer.headers["mcp-session-id"]
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    httpx.post(url, json=initialized, headers={**HEADERS, "Mcp-Session-Id": session}, timeout=10).raise_for_status()
    return session


def session_hop_section(machine: str, when: str, rounds: int = 5, seconds: int = 8) -> str:
    ensure_packages("wrk")
    ways = ("own", "other", "stateless")
    measured: dict[str, list[tuple[float, float]]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as running:
        workdir = Path(scratch)
        repo, _ = render(FIXTURE, workdir, make_certs(workdir / "tls"))
        python = str(environment(SDK_REQUIREMENT[FIXTURE], *EXTRAS))
        # `sessions: stateful` renders the same file but for this constant.
        serve = (repo / "mcp_serve.py").read_text()
        (repo / "mcp_serve_stateful.py").write_text(serve.replace("STATELESS_HTTP = True", "STATELESS_HTTP = False"))
        env = {"MCP_AUTH": "none", "MCP_SERVE_WORKERS": "1", "MCP_REPLICA_KEYS": secrets.token_hex(32)}
        urls = {}
        scripts = {"own": "mcp_serve_stateful.py", "other": "mcp_serve_stateful.py", "stateless": "mcp_serve.py"}
        for way, script in scripts.items():
            port, log = free_port(), workdir / f"{way}.log"
            serving = process_on_port([python, script], port, repo, log, {**env, "MCP_SERVE_PORT": str(port)})
            running.enter_context(serving)
            deadline = time.monotonic() + 60
            while not healthy(f"http://127.0.0.1:{port}/healthz"):
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            urls[way] = f"http://127.0.0.1:{port}/mcp"
        session = open_session(urls["own"])
        in_session = write_tools_call_script(
            workdir / "in_session.lua", headers={"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
        )
        stateless = write_tools_call_script(workdir / "stateless.lua")
        scripts = {"own": in_session, "other": in_session, "stateless": stateless}
        order = list(ways)
        for _ in range(rounds):
            random.shuffle(order)
            for way in order:
                wrk(urls[way], scripts[way], CLIENTS, 2)  # warm up
                rate, _ = wrk(urls[way], scripts[way], CLIENTS, seconds)
                _, p50 = wrk(urls[way], scripts[way], 1, seconds // 2)
                measured[way].append((rate, p50))
                time.sleep(1)
    rows = []
    own_p50 = median(p50 for _, p50 in measured["own"])
    labels = {
        "own": "stateful, to the session's own process",
        "other": "stateful, to another replica (passed on)",
        "stateless": "stateless (reference)",
    }
    for way in ways:
        rate, p50 = median(r for r, _ in measured[way]), median(p for _, p in measured[way])
        rows.append(f"| {labels[way]} | {rate:.0f} | {p50:.2f} ms | {p50 / own_p50:.2f}x |")
    return (
        f"{HEADING}\n\nMeasured {when} on {machine} by `nox -s benchmarks -- --only sessions`: {FIXTURE} (mcp 2.x"
        f" MCPServer), {rounds} rounds, each way once per round in a shuffled order; wrk (one thread) sending"
        f" tools/call add(2, 3) in one open session with {CLIENTS} connections for {seconds} s (calls/s), then"
        f" with one for {seconds // 2} s (p50). Every process has one worker; both replicas and the load generator"
        " share the machine's cores.\n\n"
        "| way | c=16 calls/s | c=1 p50 | p50 ÷ own process |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
