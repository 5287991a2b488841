"""One replica against two on a real single-node Docker Swarm, each replica limited to half a CPU.

The stack is the one tests/e2e/test_swarm.py deploys (an mcp 2.x server, streamable-http, tokens
checked by the stack's nginx with TLS), with one change made for this measurement: each replica's
CPU limit is 0.5 instead of 1, so that the machine's 2 cores, shared with the load generator and
nginx, are not what limits two replicas. The load is wrk (C, Debian's package) with 16
connections kept, each sending the stateless server tools/call add(2, 3) through nginx with TLS
and a token: the mcp SDK's Python client costs more CPU per call than half a CPU of server does,
so with it the load generator, not the replicas, would be measured. The replica count alternates
between rounds (`docker service scale`); each round's throughput ratio is the figure.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from e2e.base_image import ensure_base_image
from e2e.certs import make_certs
from e2e.debian import ensure_packages
from e2e.docker_engine import ensure_docker_engine
from e2e.registry import Registry
from e2e.swarm import deployed_stack, swarm_mode
from wrk_load import parse_wrk, write_tools_call_script, wrk_args

HEADING = "## Replicas on Swarm: 1 against 2 (Docker engine)"
CPUS_PER_REPLICA = "0.5"
CLIENTS = 16


@dataclass
class Throughput:
    calls_per_second: float
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float]  # service: CPU used mid-run, in CPUs (docker stats)


def cpu_by_service(engine, stack: str) -> dict[str, float]:
    """CPUs each of the stack's services uses now, summed over its containers."""
    out = engine.docker("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}")
    used: dict[str, float] = {}
    for line in out.splitlines():
        name, percent = line.split()
        if name.startswith(f"{stack}_"):
            service = name.removeprefix(f"{stack}_").split(".")[0]
            used[service] = used.get(service, 0) + float(percent.rstrip("%")) / 100
    return used


def measure(engine, stack: str, url: str, script: Path, seconds: int) -> Throughput:
    """wrk against url for `seconds`; every answer must be a 200. CPU use is read halfway."""
    wrk = subprocess.Popen(wrk_args(2, CLIENTS, seconds, script, url), stdout=subprocess.PIPE, text=True)
    time.sleep(seconds / 2)
    cpu = cpu_by_service(engine, stack)
    out, _ = wrk.communicate(timeout=seconds * 3)
    assert wrk.returncode == 0, out
    rate, latency = parse_wrk(out)
    return Throughput(rate, latency["50"], latency["99"], cpu)


def swarm_scaling_section(machine: str, when: str, rounds: int = 4, seconds: int = 10) -> str:
    ensure_packages("wrk")
    engine = ensure_docker_engine()
    ensure_base_image(engine)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        tls = make_certs(workdir / "tls")
        registry = Registry(workdir / "registry").start()
        try:
            with swarm_mode(engine), deployed_stack(engine, registry, tls, workdir, 1, CPUS_PER_REPLICA) as deployed:
                stack, url, token = deployed
                script = write_tools_call_script(workdir / "tools_call.lua", token)
                measure(engine, stack.name, url, script, 2)  # warm up: TLS sessions, the replica's first calls
                measured = {1: [], 2: []}
                for round_number in range(rounds):
                    for replicas in (1, 2) if round_number % 2 == 0 else (2, 1):
                        engine.docker("service", "scale", "--detach", f"{stack.name}_server={replicas}")
                        stack.wait_replicas(replicas)
                        time.sleep(6)  # nginx looks the replicas up again every 5 s
                        measured[replicas].append(measure(engine, stack.name, url, script, seconds))
        finally:
            registry.stop()
    ratios = [two.calls_per_second / one.calls_per_second for one, two in zip(measured[1], measured[2], strict=True)]
    rows = [
        f"| {replicas} | {median(load.calls_per_second for load in loads):.0f} | "
        f"{median(load.p50_ms for load in loads):.1f} ms | {median(load.p99_ms for load in loads):.1f} ms | "
        f"{median(load.cpu.get('server', 0) for load in loads):.2f} | "
        f"{median(load.cpu.get('nginx', 0) for load in loads):.2f} |"
        for replicas, loads in measured.items()
    ]
    return (
        f"{HEADING}\n\nMeasured {when} on {machine}: {rounds} rounds of {seconds} s per replica count, wrk with "
        f"{CLIENTS} connections sending tools/call through the stack's nginx with TLS and a token; each replica "
        f"limited to {CPUS_PER_REPLICA} CPU (the rendered stack file says 1). "
        "Throughput of 2 replicas over 1, median of the per-round ratios: "
        f"**{median(ratios):.2f}x** (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)}).\n\n"
        "| replicas | calls/s | p50 | p99 | CPUs used by the replicas | by nginx |\n"
        "| --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
