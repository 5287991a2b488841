"""What observability costs a call (mcp_observe.py): everything on against everything off, on this
machine, without Docker.

Each fixture is rendered, and its mcp_serve.py served with one worker, either way:

- on: metrics on MCP_METRICS_PORT, spans exported over OTLP/HTTP to an OTLP receiver in this
  process (tests/otlp_receiver.py) by OpenTelemetry's default batch processor, MCP_AUDIT=calls,
  the server's stderr (audit and access lines) written to a file; the packages found through
  MCP_OBSERVABILITY_PACKAGES, as the image installs them apart from the server's;
- off: MCP_AUDIT=off, no MCP_METRICS_PORT, no OTEL_* setting (mcp_observe.py adds nothing then).

mcp2_factory (mcp 2.x) makes its own spans; fastmcp_repo (mcp 1.x) gets the wiring's. The load is
wrk (C, Debian's package, one thread) sending the stateless tools/call add(2, 3), as in
benchmarks/workers.py: with CLIENTS connections for calls/s, with one for p50. Each round serves
both ways, in an order that alternates from round to round, each in a fresh process; the ratios are
medians of each round's ratio, so that drift on shared cores cancels out. The server's CPU time per
call (all its threads, the span exporter's included) during the calls/s run is the figure the
other load on the machine disturbs least.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from e2e.certs import make_certs
from e2e.debian import ensure_packages
from e2e.ports import free_port
from fixture_repos import SDK_REQUIREMENT
from otlp_receiver import otlp_receiver
from peers import process_on_port, render
from sdk_envs import EXTRAS, environment, observability_packages
from workers import healthy, wrk
from wrk_load import parse_wrk, write_tools_call_script, wrk_args

HEADING = "## What observability costs a call: all on against all off (local processes, no Docker)"
CLIENTS = 16
WAYS = ("on", "off")
LABELS = {
    "on": "on: metrics, OTLP traces (default batch processor), audit=calls to a file",
    "off": "off: MCP_AUDIT=off, no MCP_METRICS_PORT, no OTEL_*",
}
SPANS = {"mcp2-mcpserver": "the SDK's spans", "mcp1-fastmcp": "the wiring's spans"}


def settings(way: str, receiver_url: str, metrics_port: int) -> dict[str, str]:
    if way == "off":
        return {"MCP_AUDIT": "off"}
    return {
        "MCP_AUDIT": "calls",
        "MCP_METRICS_PORT": str(metrics_port),
        "MCP_OBSERVABILITY_PACKAGES": str(observability_packages()),
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver_url,
    }


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used, all its threads, user and system (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loaded(url: str, script: Path, pid: int, seconds: int) -> tuple[float, float]:
    """(calls/s, the server's CPU ms per call) of wrk (one thread) with CLIENTS connections."""
    before = cpu_seconds(pid)
    out = subprocess.run(wrk_args(1, CLIENTS, seconds, script, url), capture_output=True, text=True, check=True)
    used = cpu_seconds(pid) - before
    rate, _ = parse_wrk(out.stdout)
    calls = int(re.search(r"^\s*(\d+) requests in", out.stdout, re.M)[1])
    return rate, used / calls * 1000


def tools_call_count(metrics_port: int) -> float:
    """How many tools/call add the histogram counted, as Prometheus would read it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    count = r'^mcp_server_operation_duration_seconds_count\{[^}]*gen_ai_tool_name="add"[^}]*\} (\S+)$'
    found = re.search(count, text, re.M)
    return float(found[1]) if found else 0.0


@contextmanager
def served(way: str, repo: Path, python: str, receiver_url: str, log: Path):
    """mcp_serve.py with one worker, observability on or off: (its URL, its metrics port, its pid)."""
    port, metrics_port = free_port(), free_port()
    env = {
        "MCP_AUTH": "none",
        "MCP_SERVE_PORT": str(port),
        "MCP_SERVE_WORKERS": "1",
        **settings(way, receiver_url, metrics_port),
    }
    with process_on_port([python, "mcp_serve.py"], port, repo, log, env) as process:
        deadline = time.monotonic() + 60
        while not healthy(f"http://127.0.0.1:{port}/healthz"):
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        summary = next(line for line in log.read_text().splitlines() if line.startswith("Serving "))
        if way == "on":
            assert f"metrics on :{metrics_port}" in summary and "traces over OTLP" in summary, summary
            assert "audit: calls" in summary, summary
        else:
            assert "no metrics" in summary and "traces" not in summary and "audit: off" in summary, summary
        yield f"http://127.0.0.1:{port}/mcp", metrics_port, process.pid


@dataclass(frozen=True)
class Measured:
    calls_per_second: float  # at CLIENTS connections
    cpu_ms: float  # the server's CPU time per call, at CLIENTS connections
    p50_ms: float  # at one connection


def ratio(on: list[Measured], off: list[Measured], slower) -> float:
    """The median over rounds of a round's slowdown (above 1: on is slower)."""
    return median(slower(a, b) for a, b in zip(on, off, strict=True))


def observe_overhead_section(generations: list[str], machine: str, when: str, rounds: int = 8, seconds: int = 8) -> str:
    from e2e.test_deployments import GENERATION_FIXTURE

    ensure_packages("wrk")
    leaked = sorted(name for name in os.environ if name.startswith("OTEL_"))
    assert not leaked, f"unset {leaked}: the off way must have no OTEL_* setting"
    rows = []
    for sdk in generations:
        fixture = GENERATION_FIXTURE[sdk]
        measured: dict[str, list[Measured]] = {way: [] for way in WAYS}
        audited, exported = [], []  # per round of the on way, per call counted: audit lines, spans received
        with tempfile.TemporaryDirectory() as scratch, otlp_receiver() as receiver:
            workdir = Path(scratch)
            repo, _ = render(fixture, workdir, make_certs(workdir / "tls"))
            python = str(environment(SDK_REQUIREMENT[fixture], *EXTRAS))
            script = write_tools_call_script(workdir / "tools_call.lua")
            for index in range(rounds):
                for way in WAYS if index % 2 == 0 else WAYS[::-1]:
                    log = workdir / f"{way}-{index}.log"
                    spans_before = len(receiver.spans)
                    with served(way, repo, python, receiver.url, log) as (url, metrics_port, pid):
                        wrk(url, script, CLIENTS, 2)  # warm up
                        rate, cpu = loaded(url, script, pid, seconds)
                        _, p50 = wrk(url, script, 1, seconds // 2)
                        counted = tools_call_count(metrics_port) if way == "on" else 0.0
                    measured[way].append(Measured(rate, cpu, p50))
                    audit = log.read_text().count('"event":"mcp.tool_call"')
                    if way == "on":
                        time.sleep(0.5)  # the last export request, if any, being read
                        spans = len(receiver.spans) - spans_before
                        assert counted > 0 and audit > 0 and spans > 0, (counted, audit, spans)
                        audited.append(audit / counted)
                        exported.append(spans / counted)
                    else:
                        assert audit == 0, log.read_text()[-2000:]
                    time.sleep(1)
        on, off = measured["on"], measured["off"]
        p50_ratio = ratio(on, off, lambda a, b: a.p50_ms / b.p50_ms)
        rate_ratio = ratio(on, off, lambda a, b: b.calls_per_second / a.calls_per_second)
        cpu_ratio = ratio(on, off, lambda a, b: a.cpu_ms / b.cpu_ms)
        for way in WAYS:
            loads = measured[way]
            p50, rate, cpu = (
                median(getattr(load, name) for load in loads) for name in ("p50_ms", "calls_per_second", "cpu_ms")
            )
            if way == "on":
                ratios = f"**{p50_ratio:.2f}x** | **{rate_ratio:.2f}x** | {cpu_ratio:.2f}x"
                seen = f"{median(audited):.2f} audit lines, {median(exported):.2f} spans"
            else:
                ratios, seen = " |  | ", "no audit line, no span"
            rows.append(
                f"| {sdk} ({fixture}, {SPANS.get(sdk, 'spans')}) | {LABELS[way]} | {p50:.2f} ms | {rate:.0f} | "
                f"{cpu:.2f} ms | {ratios} | {seen} |"
            )
    return (
        f"{HEADING}\n\nMeasured {when} on {machine} by `nox -s benchmarks -- --only observe`: mcp_serve.py with one "
        f"worker, {rounds} rounds, each way in a fresh process once per round, on first in every other round; wrk "
        f"(one thread) sending the stateless tools/call add(2, 3) with {CLIENTS} connections for {seconds} s "
        f"(calls/s, and the server's CPU time per call, all its threads), then with one for {seconds // 2} s (p50), "
        "after 2 s of warm-up. The OTLP receiver runs in the benchmark's process; it, wrk and the server share the "
        "machine's cores. The ratios are medians of each round's ratio, as slowdowns (above 1: on is slower): c=1 "
        "p50 on ÷ off, c=16 calls/s off ÷ on, CPU per call on ÷ off; the goal is 1.05x at most. Per call the "
        "histogram counted: the audit lines written, and the spans the receiver got by the time the server had "
        "stopped.\n\n"
        "| SDK (fixture, spans) | way | c=1 p50 | c=16 calls/s | CPU per call | p50 on ÷ off | calls/s off ÷ on "
        "| CPU on ÷ off | per call |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
