"""One replica against two on a real single-node Docker Swarm, each replica limited to half a CPU.

The stack is the one tests/e2e/test_swarm.py deploys (an mcp 2.x server, streamable-http, tokens
checked by the stack's nginx with TLS), with one change made for this measurement: each replica's
CPU limit is 0.5 instead of 1, so that the machine's 2 cores, shared with the load generator and
nginx, are not what limits two replicas. 16 clients (the mcp SDK's own, connections kept, see
call_load.py) call add() through nginx; the replica count alternates between rounds
(`docker service scale`), and each round's throughput ratio is the figure, not absolute times.
"""

from __future__ import annotations

import ssl
import tempfile
import time
from pathlib import Path
from statistics import median

import anyio
from call_load import Endpoint, call_load, open_clients
from e2e.base_image import ensure_base_image
from e2e.certs import make_certs
from e2e.docker_engine import ensure_docker_engine
from e2e.registry import Registry
from e2e.swarm import deployed_stack, swarm_mode

HEADING = "## Replicas on Swarm: 1 against 2 (Docker engine)"
CPUS_PER_REPLICA = "0.5"
CLIENTS = 16


def measure(endpoint: Endpoint, calls_per_client: int):
    async def run():
        async with open_clients(endpoint, CLIENTS) as clients:
            await call_load(clients, 3)  # warm up: connections, TLS, the replicas' first calls
            return await call_load(clients, calls_per_client)

    return anyio.run(run)


def swarm_scaling_section(machine: str, when: str, rounds: int = 3, calls_per_client: int = 40) -> str:
    engine = ensure_docker_engine()
    ensure_base_image(engine)
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        tls = make_certs(workdir / "tls")
        registry = Registry(workdir / "registry").start()
        try:
            with swarm_mode(engine), deployed_stack(engine, registry, tls, workdir, 1, CPUS_PER_REPLICA) as deployed:
                stack, url, token = deployed
                verify = ssl.create_default_context(cafile=str(tls.ca_bundle))
                endpoint = Endpoint(url, {"Authorization": f"Bearer {token}"}, verify)
                measured = {1: [], 2: []}
                for round_number in range(rounds):
                    for replicas in (1, 2) if round_number % 2 == 0 else (2, 1):
                        engine.docker("service", "scale", "--detach", f"{stack.name}_server={replicas}")
                        stack.wait_replicas(replicas)
                        time.sleep(6)  # nginx looks the replicas up again every 5 s
                        measured[replicas].append(measure(endpoint, calls_per_client))
        finally:
            registry.stop()
    ratios = [two.calls_per_second / one.calls_per_second for one, two in zip(measured[1], measured[2], strict=True)]
    rows = [
        f"| {replicas} | {median(load.calls_per_second for load in loads):.0f} | "
        f"{median(load.p50 for load in loads):.1f} ms | {median(load.p95 for load in loads):.1f} ms |"
        for replicas, loads in measured.items()
    ]
    return (
        f"{HEADING}\n\nMeasured {when} on {machine}: {rounds} rounds, {CLIENTS} clients x {calls_per_client} "
        f"calls each per measurement, through the stack's nginx with TLS; each replica limited to "
        f"{CPUS_PER_REPLICA} CPU (the rendered stack file says 1). "
        "Throughput of 2 replicas over 1, median of the per-round ratios: "
        f"**{median(ratios):.2f}x** (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)}).\n\n"
        "| replicas | calls/s | p50 | p95 |\n| --- | --- | --- | --- |\n" + "\n".join(rows) + "\n"
    )
