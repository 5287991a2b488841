"""One worker process against two (MCP_SERVE_WORKERS), on this machine, without Docker.

For each generation measured, its fixture repository (as benchmarks/peers.py renders it) is served
by the rendered mcp_serve.py with MCP_SERVE_WORKERS=1 and =2, and by the floor (the SDK's own
stateless app under plain uvicorn, benchmarks/bare_app.py), one at a time. The load is wrk (C,
Debian's package, one thread) sending the stateless tools/call add(2, 3): with CLIENTS connections
for throughput, with one for latency. The mcp SDK's Python client would cost more CPU per call than
the server does, so it would measure itself. Rounds alternate the order; the figures are medians
over rounds, and the ratios are medians of each round's ratio. Memory is each process's
proportional set size (PSS: shared pages split between the processes sharing them) after the load.
"""

from __future__ import annotations

import random
import re
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bare_app import DEFAULT_ENDPOINT, ENDPOINT
from e2e.certs import make_certs
from e2e.debian import ensure_packages
from e2e.ports import free_port
from fixture_repos import DETECTED, SDK_REQUIREMENT
from peers import BENCHMARKS, QUIET, process_on_port, render
from sdk_envs import EXTRAS, environment
from served_project import children
from wrk_load import parse_wrk, write_tools_call_script, wrk_args

HEADING = "## Worker processes: 1 against 2 (local processes, no Docker)"
CLIENTS = 16


@dataclass(frozen=True)
class Measured:
    calls_per_second: float  # at CLIENTS connections
    p50_ms: float  # at one connection
    pss_mib: list[float]  # each process's PSS after the load: the supervisor first, then the workers


def wrk(url: str, script: Path, connections: int, seconds: int) -> tuple[float, float]:
    """(calls/s, p50 ms) of wrk (one thread) against url; every answer must be a 200."""
    out = subprocess.run(wrk_args(1, connections, seconds, script, url), capture_output=True, text=True, check=True)
    rate, latency = parse_wrk(out.stdout)
    return rate, latency["50"]


def pss_mib(pid: int) -> float:
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M)[1]) / 1024


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def served(way: str, repo: Path, python: str, sdk: str, fixture: str, logs: Path):
    """The way started on a port of its own: (its URL, a function giving its process ids)."""
    port = free_port()
    if way == "floor":
        args = [python, "-m", "uvicorn", "--app-dir", str(BENCHMARKS), "--factory", "bare_app:create_app"]
        env = {"BARE_APP_SDK": sdk, "BARE_APP_SERVER": DETECTED[fixture]["server"]}
        path = ENDPOINT.get(sdk, DEFAULT_ENDPOINT)
        args += ["--port", str(port), "--log-level", "warning"]
    else:
        args = [python, "mcp_serve.py"]
        env = {"MCP_AUTH": "none", "MCP_SERVE_PORT": str(port), "MCP_SERVE_WORKERS": way, **QUIET}
        path = "/mcp"
    with process_on_port(args, port, repo, logs / f"{way}.log", env) as process:
        if way != "floor":  # every worker serving, not only the first to listen
            deadline = time.monotonic() + 60
            while not healthy(f"http://127.0.0.1:{port}/healthz"):
                assert time.monotonic() < deadline, (logs / f"{way}.log").read_text()[-3000:]
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}{path}", process


def workers_section(generations: list[str], machine: str, when: str, rounds: int = 5, seconds: int = 8) -> str:
    from e2e.test_deployments import GENERATION_FIXTURE

    ensure_packages("wrk")
    ways = ("1", "2", "floor")
    rows = []
    for sdk in generations:
        fixture = GENERATION_FIXTURE[sdk]
        measured: dict[str, list[Measured]] = {way: [] for way in ways}
        with tempfile.TemporaryDirectory() as scratch:
            workdir = Path(scratch)
            repo, _ = render(fixture, workdir, make_certs(workdir / "tls"))
            python = str(environment(SDK_REQUIREMENT[fixture], *EXTRAS))
            script = write_tools_call_script(workdir / "tools_call.lua")
            logs = workdir / "logs"
            logs.mkdir()
            order = list(ways)
            for _ in range(rounds):
                random.shuffle(order)
                for way in order:
                    with served(way, repo, python, sdk, fixture, logs) as (url, process):
                        wrk(url, script, CLIENTS, 2)  # warm up
                        rate, _ = wrk(url, script, CLIENTS, seconds)
                        _, p50 = wrk(url, script, 1, seconds // 2)
                        memory = [pss_mib(pid) for pid in [process.pid, *sorted(children(process.pid))]]
                        measured[way].append(Measured(rate, p50, memory))
                        time.sleep(1)
        one, two, floor = (measured[way] for way in ways)
        speedup = median(b.calls_per_second / a.calls_per_second for a, b in zip(one, two, strict=True))
        latency = median(b.p50_ms / f.p50_ms for b, f in zip(two, floor, strict=True))
        for way, label in (("1", "mcp_serve.py, 1 worker"), ("2", "mcp_serve.py, 2 workers"), ("floor", "floor")):
            loads = measured[way]
            memory = [median(load.pss_mib[index] for load in loads) for index in range(len(loads[0].pss_mib))]
            memory_text = " + ".join(f"{mib:.0f}" for mib in memory) + " MiB"
            ratio = f"**{speedup:.2f}x**" if way == "2" else ""
            floor_ratio = f"{latency:.2f}x" if way == "2" else ""
            rows.append(
                f"| {sdk} ({fixture}) | {label} | {median(load.calls_per_second for load in loads):.0f} | {ratio} | "
                f"{median(load.p50_ms for load in loads):.2f} ms | {floor_ratio} | {memory_text} |"
            )
    return (
        f"{HEADING}\n\nMeasured {when} on {machine} by `nox -s benchmarks -- --only workers`: {rounds} rounds, each "
        f"way once per round in a shuffled order; wrk (one thread) sending the stateless tools/call add(2, 3) with "
        f"{CLIENTS} connections for {seconds} s (calls/s), then with one for {seconds // 2} s (p50). 2 workers ÷ 1 "
        "is the median of each round's calls/s ratio; p50 ÷ floor compares 2 workers at one connection with the "
        "SDK's bare app. Memory: PSS of each process after the load (for mcp_serve.py with 2 workers, the "
        "supervisor first: it never imports the server). The load generator shares the machine's cores.\n\n"
        "| SDK (fixture) | way | c=16 calls/s | 2 workers ÷ 1 | c=1 p50 | p50 ÷ floor | memory (PSS per process) |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
