"""The template's HTTP wiring against what users would pick instead, on loopback, without Docker.

For each SDK generation, one fixture server (tests/e2e/test_deployments.py's GENERATION_FIXTURE)
is put on streamable-http in every way below, all running at once, and the same tool (add) is
called through each with the mcp SDK's own client:

- the template: the rendered project's mcp_serve.py, run as tests/served_project.py runs it;
- the same behind real nginx with real TLS, with the project's rendered nginx conf as the e2e
  tests use it (a tokens map holding a 64-hex-digit token), with connections kept, and with the
  SDK's client as shipped, which makes a TLS handshake per call (benchmarks/call_load.py says why);
- the floor: the SDK's own stateless app under plain uvicorn (benchmarks/bare_app.py);
- mcp-proxy and supergateway, each spawning the repository's own stdio entry point.

Absolute times on a shared 2-core machine are noise, so the ways are measured in rounds (each
way once per round, in a shuffled order) and each way is reported as the median over rounds of
its ratio to the floor measured in the same round, next to the median absolute figures.
"""

from __future__ import annotations

import hashlib
import os
import random
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import anyio
from bare_app import DEFAULT_ENDPOINT, ENDPOINT
from call_load import Endpoint, Load, call_load, open_clients
from e2e.cache import CACHE_DIR, file_lock
from e2e.certs import TlsCerts, make_certs
from e2e.debian import ensure_packages
from e2e.deployment import URL_PREFIX, nginx_answers, port_answers
from e2e.nginx import Nginx
from e2e.ports import free_port, port_is_open
from e2e.test_deployments import GENERATION_FIXTURE
from fixture_repos import DATA, DETECTED, SDK_REQUIREMENT, apply_template, checkout_fixture
from sdk_envs import EXTRAS, environment
from served_project import serving

BENCHMARKS = Path(__file__).resolve().parent
MCP_PROXY = "mcp-proxy==0.13.0"  # needs mcp < 2: an environment of its own
SUPERGATEWAY_PACKAGE = BENCHMARKS / "supergateway"  # package.json pins supergateway 4.0.0, with its lock
SUPERGATEWAY_INSTALLS = CACHE_DIR / "supergateway"
CONCURRENCY = 16
# Each repository's own stdio entry point: (folder to run in, arguments to its python). mcp2_factory's
# is the function its [project.scripts] names, called as that script would (the project is not installed).
STDIO_ENTRY = {
    "fastmcp_repo": (".", ["weather_server.py"]),
    "lowlevel_repo": (".", ["src/weather/server.py"]),
    "mcp2_factory": (".", ["-c", "from weather_mcp.server import main; main()"]),
    "mcp2_lowlevel": (".", ["app.py"]),
    "fastmcp4_app": ("src", ["-m", "weather_app"]),
}
# fastmcp's stdio banner asks PyPI for a newer release: not on a loopback-only benchmark.
QUIET = {"FASTMCP_CHECK_FOR_UPDATES": "off"}


@dataclass(frozen=True)
class Sizes:
    """How much is measured: per round and way, calls at concurrency 1 and per session at CONCURRENCY."""

    rounds: int = 5
    calls: int = 100
    concurrent_calls: int = 20
    # supergateway's default mode starts a server process per request (most of a second each here,
    # and CONCURRENCY of them at once take about ten seconds): fewer calls, and c=16 in the first round only.
    spawning_calls: int = 3
    spawning_concurrent_calls: int = 1
    spawning_concurrent_rounds: int = 1


@dataclass(frozen=True)
class RoundResult:
    single: Load  # one session, sequential calls
    concurrent: Load | None  # CONCURRENCY sessions at once, each making sequential calls (None: not this round)


@dataclass
class Way:
    name: str
    endpoint: Endpoint
    spawns_per_request: bool = False
    rounds: list[RoundResult] = field(default_factory=list)

    def calls(self, sizes: Sizes, round_index: int) -> tuple[int, int]:
        """Calls at c=1, and per session at CONCURRENCY (0: none in this round)."""
        if not self.spawns_per_request:
            return sizes.calls, sizes.concurrent_calls
        concurrent = sizes.spawning_concurrent_calls if round_index < sizes.spawning_concurrent_rounds else 0
        return sizes.spawning_calls, concurrent


FLOOR = "floor: the SDK's stateless app, plain uvicorn"


# --- the servers ---------------------------------------------------------------------------


@contextmanager
def process_on_port(args: list[str], port: int, cwd: Path, log: Path, env: dict[str, str]) -> Iterator[None]:
    """A process we start and stop ourselves, once it accepts connections on port."""
    with log.open("w") as log_file:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, **QUIET, **env},
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not port_is_open(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def supergateway_script() -> Path:
    """supergateway's entry script, installed once with `npm ci` from the lock under benchmarks/supergateway."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((SUPERGATEWAY_PACKAGE / name).read_bytes())
    target = SUPERGATEWAY_INSTALLS / digest.hexdigest()[:16]
    with file_lock("supergateway"):
        if not (target / ".installed").exists():
            if shutil.which("node") is None or shutil.which("npm") is None:
                ensure_packages("nodejs", "npm")
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copy2(SUPERGATEWAY_PACKAGE / name, target / name)
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
                cwd=target,
                check=True,
                capture_output=True,
            )
            (target / ".installed").touch()
    return target / "node_modules" / "supergateway" / "dist" / "index.js"


def render(fixture: str, workdir: Path, tls: TlsCerts) -> tuple[Path, dict]:
    """The fixture repository with the template applied for streamable-http behind nginx, as the e2e tests do."""
    repo = checkout_fixture(fixture, workdir / "repo")
    answers = {
        **DATA.get(fixture, {}),
        "transport": "streamable-http",
        "image": f"bench/{fixture.replace('_', '-')}",
        **port_answers(True),
        "use_nginx": True,
        **nginx_answers(tls),
    }
    apply_template(repo, **answers)
    return repo, answers


@dataclass(frozen=True)
class TemplateServing:
    """The rendered project's mcp_serve.py, and nginx with the rendered conf in front of it."""

    repo: Path
    answers: dict
    python: str
    direct_url: str
    proxied_url: str
    token_header: dict[str, str]

    @property
    def conf(self) -> Path:
        return self.repo / "nginx" / f"{self.answers['image'].rsplit('/', 1)[-1]}.conf"


def start_template(stack: ExitStack, fixture: str, workdir: Path, tls: TlsCerts) -> TemplateServing:
    """Render the fixture with nginx, run mcp_serve.py as served_project.serving() does (MCP_AUTH=none), start nginx."""
    python = str(environment(SDK_REQUIREMENT[fixture], *EXTRAS))
    repo, answers = render(fixture, workdir, tls)
    # One worker, as the floor is one process (benchmarks/workers.py compares 1 with 2).
    settings = {"MCP_PORT": str(answers["port"]), "MCP_SERVE_WORKERS": "1", **QUIET}
    base = stack.enter_context(serving(repo, python=python, **settings))
    served = TemplateServing(
        repo,
        answers,
        python,
        direct_url=base + "/mcp",
        proxied_url=f"https://localhost:{answers['https_port']}/{URL_PREFIX}/mcp",
        # A header as clients send it (the server runs without a check here, so its value is not read).
        token_header={"Authorization": f"Bearer {secrets.token_hex(32)}"},
    )
    nginx = Nginx(workdir / "nginx", served.conf)
    nginx.start(wait_ports=(answers["https_port"],))
    stack.callback(nginx.stop)
    return served


def start_ways(stack: ExitStack, sdk: str, fixture: str, workdir: Path, tls: TlsCerts) -> list[Way]:
    """Every way of serving this generation's fixture, started (stopped when stack closes)."""
    template = start_template(stack, fixture, workdir, tls)
    python, repo = template.python, template.repo
    folder, stdio_args = STDIO_ENTRY[fixture]
    stdio_cwd = repo / folder
    logs = workdir / "logs"
    logs.mkdir()

    bare_port = free_port()
    stack.enter_context(
        process_on_port(
            [python, "-m", "uvicorn", "--app-dir", str(BENCHMARKS), "--factory", "bare_app:create_app"]
            + ["--port", str(bare_port)],
            bare_port,
            repo,
            logs / "bare.log",
            {"BARE_APP_SDK": sdk, "BARE_APP_SERVER": DETECTED[fixture]["server"]},
        )
    )

    proxy = Path(environment(MCP_PROXY)).parent / "mcp-proxy"
    proxy_ports = {}
    for mode, flags in (("stateful", []), ("stateless", ["--stateless"])):
        port = proxy_ports[mode] = free_port()
        args = [str(proxy), "--host", "127.0.0.1", "--port", str(port), *flags, "--cwd", str(stdio_cwd)]
        args += [arg for name, value in QUIET.items() for arg in ("-e", name, value)]
        log = logs / f"mcp-proxy-{mode}.log"
        stack.enter_context(process_on_port([*args, "--", python, *stdio_args], port, repo, log, {}))

    gateway = str(supergateway_script())
    gateway_ports = {}
    for mode, flags in (("stateless", []), ("stateful", ["--stateful"])):
        port = gateway_ports[mode] = free_port()
        args = ["node", gateway, "--stdio", shlex.join([python, *stdio_args]), "--outputTransport", "streamableHttp"]
        args += ["--port", str(port), *flags]
        stack.enter_context(process_on_port(args, port, stdio_cwd, logs / f"supergateway-{mode}.log", {}))

    proxied, token, tls_context = template.proxied_url, template.token_header, tls.ssl_context()
    return [
        Way("template: mcp_serve.py", Endpoint(template.direct_url)),
        Way("template behind nginx + TLS", Endpoint(proxied, token, tls_context)),
        Way(
            "template behind nginx + TLS, SDK client as shipped (a TLS handshake per call)",
            Endpoint(proxied, token, tls_context, read_to_end=False),
        ),
        Way(FLOOR, Endpoint(f"http://127.0.0.1:{bare_port}{ENDPOINT.get(sdk, DEFAULT_ENDPOINT)}")),
        Way("mcp-proxy 0.13.0 (stateful, its default)", Endpoint(f"http://127.0.0.1:{proxy_ports['stateful']}/mcp")),
        Way("mcp-proxy 0.13.0 --stateless", Endpoint(f"http://127.0.0.1:{proxy_ports['stateless']}/mcp")),
        Way(
            "supergateway 4.0.0 (stateless, its default: a server process per request)",
            Endpoint(f"http://127.0.0.1:{gateway_ports['stateless']}/mcp"),
            spawns_per_request=True,
        ),
        Way("supergateway 4.0.0 --stateful", Endpoint(f"http://127.0.0.1:{gateway_ports['stateful']}/mcp")),
    ]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the rounds ----------------------------------------------------------------------------


async def measure_rounds(ways: list[Way], sizes: Sizes, order: random.Random) -> None:
    """Open every way's sessions, warm up, then measure each way once per round in a shuffled order."""
    async with AsyncExitStack() as stack:
        clients = {}
        for way in ways:
            started = time.monotonic()
            sessions = CONCURRENCY if way.calls(sizes, 0)[1] else 1
            clients[way.name] = await stack.enter_async_context(open_clients(way.endpoint, sessions))
            await call_load(clients[way.name][:1], 1 if way.spawns_per_request else 20)
            if sessions > 1 and not way.spawns_per_request:
                await call_load(clients[way.name], 2)
            progress(f"  {way.name}: {sessions} sessions open and warm in {time.monotonic() - started:.1f} s")
        for round_index in range(sizes.rounds):
            shuffled = list(ways)
            order.shuffle(shuffled)
            for way in shuffled:
                calls, concurrent_calls = way.calls(sizes, round_index)
                if not way.spawns_per_request:
                    # Untimed: reconnect what idled out since the last round (uvicorn keeps 5 s, httpx 5 s).
                    await call_load(clients[way.name], 1)
                try:
                    single = await call_load(clients[way.name][:1], calls)
                    concurrent = await call_load(clients[way.name], concurrent_calls) if concurrent_calls else None
                except Exception as error:
                    raise RuntimeError(f"{way.name} failed in round {round_index + 1}") from error
                way.rounds.append(RoundResult(single, concurrent))
                seconds = single.seconds + (concurrent.seconds if concurrent else 0)
                progress(f"  round {round_index + 1}: {way.name}: {seconds:.1f} s")


def generation_rows(sdk: str, fixture: str, ways: list[Way]) -> list[tuple[str, ...]]:
    floor = next(way for way in ways if way.name == FLOOR)
    rows = []
    for way in ways:
        pairs = list(zip(way.rounds, floor.rounds, strict=True))
        concurrent = [(mine.concurrent, base.concurrent) for mine, base in pairs if mine.concurrent]
        single = (
            f"{median(mine.single.p50 for mine, _ in pairs):.2f} ms",
            f"{median(mine.single.p95 for mine, _ in pairs):.2f} ms",
            f"{median(mine.single.p50 / base.single.p50 for mine, base in pairs):.2f}×",
            f"{median(mine.single.connections_per_call for mine, _ in pairs):.2f}",
        )
        many = ("—",) * 4
        if concurrent:
            many = (
                f"{median(mine.p50 for mine, _ in concurrent):.1f} ms",
                f"{median(mine.p95 for mine, _ in concurrent):.1f} ms",
                f"{median(mine.calls_per_second for mine, _ in concurrent):.0f}",
                f"{median(mine.calls_per_second / base.calls_per_second for mine, base in concurrent):.2f}×",
            )
        rows.append((f"{sdk} ({fixture})", way.name, *single, *many))
    return rows


COLUMNS = (
    "SDK (fixture)",
    "way",
    "c=1 p50",
    "c=1 p95",
    "c=1 p50 ÷ floor",
    "new connections per call (c=1)",
    f"c={CONCURRENCY} p50",
    f"c={CONCURRENCY} p95",
    f"c={CONCURRENCY} calls/s",
    f"c={CONCURRENCY} calls/s ÷ floor",
)
HEADING = "## The template's HTTP wiring against the alternatives (local processes, no Docker)"


def peers_section(sizes: Sizes, generations: list[str], machine: str, when: str) -> str:
    """Measure every generation; the section of benchmarks/results.md, heading included."""
    started = time.monotonic()
    order = random.Random(20261125)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        tls = make_certs(workdir / "tls")
        for sdk in generations:
            fixture = GENERATION_FIXTURE[sdk]
            progress(f"peers: {sdk} ({fixture})")
            generation_started = time.monotonic()
            with ExitStack() as servers:
                ways = start_ways(servers, sdk, fixture, workdir / sdk, tls)
                progress(f"  every way serving after {time.monotonic() - generation_started:.0f} s")
                anyio.run(measure_rounds, ways, sizes, order)
            rows += generation_rows(sdk, fixture, ways)
    minutes = (time.monotonic() - started) / 60
    header = f"| {' | '.join(COLUMNS)} |\n|{' --- |' * len(COLUMNS)}\n"
    table = header + "".join(f"| {' | '.join(row)} |\n" for row in rows)
    return (
        f"{HEADING}\n\n"
        f"Measured {when} on {machine} by `nox -s benchmarks -- --only peers` ({minutes:.1f} min). "
        "Every way runs as a local process on loopback, all at once; tools/call `add` with the mcp SDK's "
        f"client (mcp 1.30.0): per round and way, {sizes.calls} sequential calls in one session (c=1), then "
        f"{CONCURRENCY} sessions at once making {sizes.concurrent_calls} sequential calls each (c={CONCURRENCY}, "
        "calls/s = all calls / wall time); supergateway's default mode, which starts a server process "
        f"per request, {sizes.spawning_calls} calls, and {CONCURRENCY} × {sizes.spawning_concurrent_calls} "
        f"in the first {sizes.spawning_concurrent_rounds} round(s) only. "
        f"{sizes.rounds} rounds, each way once per round in a shuffled order; figures are medians over "
        "rounds, and ÷ floor is the median of each round's ratio to the floor measured in that round "
        "(latency: above 1 is slower; calls/s: below 1 is slower). The client reads each response to "
        "its end so that connections are kept, as clients on Node do; one row shows the SDK's client as "
        "shipped, which opens a connection per call (benchmarks/call_load.py). The servers run the "
        "newest SDK of their line (tests/fixture_repos.py); mcp-proxy and supergateway spawn the "
        "repository's own stdio entry point; nginx uses the rendered conf, with its tokens map. mcp_serve.py "
        "runs one worker (MCP_SERVE_WORKERS=1), as the floor is one process.\n\n"
        f"{table}"
    )
