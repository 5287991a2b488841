"""Where the time nginx + TLS adds to a call goes: the proxy hop, TLS on a kept connection, or handshakes.

One mcp_serve.py per generation (benchmarks/peers.py's start_template), called at concurrency 1 in
alternating blocks, each block in a shuffled order:

- directly, with the connection kept and with the SDK's client as shipped (a connection per call);
- through nginx with the rendered conf, but its https server listening without TLS: the proxy hop;
- through nginx with the rendered conf as it is (TLS), with the connection kept and as shipped.

Each block's p50 is compared with the direct one of the same block; the table gives the median.
"""

from __future__ import annotations

import random
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from statistics import median

import anyio
from call_load import Endpoint
from e2e.certs import make_certs
from e2e.nginx import Nginx
from e2e.ports import free_ports
from e2e.test_deployments import GENERATION_FIXTURE
from peers import Sizes, TemplateServing, Way, measure_rounds, progress, start_template

BLOCKS = 15
CALLS_PER_BLOCK = 40
DIRECT = "direct, connection kept"
HEADING = "## Where nginx + TLS spends its time (local processes, no Docker)"


def start_plain_nginx(stack: ExitStack, template: TemplateServing, workdir: Path) -> str:
    """A second nginx with the rendered conf, its https server moved to a port without TLS; its endpoint URL."""
    https_port, http_port = template.answers["https_port"], template.answers["http_port"]
    plain_port, redirect_port = free_ports(2)
    conf = (
        template.conf.read_text()
        .replace(f"{https_port} ssl;", f"{plain_port};")
        .replace(f"listen {http_port};", f"listen {redirect_port};")
        .replace(f"[::]:{http_port};", f"[::]:{redirect_port};")
    )
    plain_conf = workdir / "plain-http.conf"
    plain_conf.write_text(conf)
    nginx = Nginx(workdir / "nginx-plain", plain_conf)
    nginx.start(wait_ports=(plain_port,))
    stack.callback(nginx.stop)
    return template.proxied_url.replace(f"https://localhost:{https_port}", f"http://localhost:{plain_port}")


def generation_rows(sdk: str, fixture: str, ways: list[Way]) -> list[tuple[str, ...]]:
    direct = next(way for way in ways if way.name == DIRECT)
    rows = []
    for way in ways:
        pairs = list(zip(way.rounds, direct.rounds, strict=True))
        rows.append(
            (
                f"{sdk} ({fixture})",
                way.name,
                f"{median(mine.single.p50 for mine, _ in pairs):.2f} ms",
                f"{median(mine.single.p95 for mine, _ in pairs):.2f} ms",
                f"{median(mine.single.p50 - base.single.p50 for mine, base in pairs):+.2f} ms",
                f"{median(mine.single.connections_per_call for mine, _ in pairs):.2f}",
            )
        )
    return rows


COLUMNS = ("SDK (fixture)", "way", "p50", "p95", "p50 − direct (median of blocks)", "new connections per call")


def nginx_overhead_section(generations: list[str], machine: str, when: str) -> str:
    """Measure every generation; the section of benchmarks/results.md, heading included."""
    started = time.monotonic()
    order = random.Random(20261202)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        tls = make_certs(workdir / "tls")
        for sdk in generations:
            fixture = GENERATION_FIXTURE[sdk]
            progress(f"nginx overhead: {sdk} ({fixture})")
            with ExitStack() as servers:
                template = start_template(servers, fixture, workdir / sdk, tls)
                plain_url = start_plain_nginx(servers, template, workdir / sdk)
                token, verify = template.token_header, tls.ssl_context()
                ways = [
                    Way(DIRECT, Endpoint(template.direct_url)),
                    Way("direct, SDK client as shipped", Endpoint(template.direct_url, read_to_end=False)),
                    Way("nginx without TLS, connection kept", Endpoint(plain_url, token)),
                    Way("nginx + TLS, connection kept", Endpoint(template.proxied_url, token, verify)),
                    Way(
                        "nginx + TLS, SDK client as shipped",
                        Endpoint(template.proxied_url, token, verify, read_to_end=False),
                    ),
                ]
                sizes = Sizes(rounds=BLOCKS, calls=CALLS_PER_BLOCK, concurrent_calls=0)
                anyio.run(measure_rounds, ways, sizes, order)
            rows += generation_rows(sdk, fixture, ways)
    minutes = (time.monotonic() - started) / 60
    header = f"| {' | '.join(COLUMNS)} |\n|{' --- |' * len(COLUMNS)}\n"
    table = header + "".join(f"| {' | '.join(row)} |\n" for row in rows)
    return (
        f"{HEADING}\n\n"
        f"Measured {when} on {machine} by `nox -s benchmarks -- --only nginx` ({minutes:.1f} min). The template's "
        f"mcp_serve.py, called at concurrency 1 in {BLOCKS} blocks of {CALLS_PER_BLOCK} calls, every way once per "
        "block in a shuffled order; medians over blocks. nginx runs the rendered conf; the row without TLS "
        "is the same conf with `ssl` taken off its https `listen`. The SDK's client as shipped closes each "
        "streamed response before its end, so httpx opens a new connection per call (a TLS handshake "
        "through nginx); the other rows read responses to the end and keep it (benchmarks/call_load.py).\n\n"
        f"{table}"
    )
