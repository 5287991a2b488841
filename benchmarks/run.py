"""Benchmarks: how long rendering takes and what the rendered deployment costs at run time.

    nox -s benchmarks                    # writes benchmarks/results.md
    nox -s benchmarks -- --no-docker     # what needs no Docker engine: render, peers, nginx
    nox -s benchmarks -- --only swarm    # only these sections; the rest is kept
                                         # (docker, peers, nginx, workers, sessions, observe, swarm)

Render numbers come from fresh `copier copy` processes (wall time and peak RSS per process).
Run-time numbers come from real images on a real Docker engine (tests/e2e starts one): build
times, image size, container memory idle and after a burst of calls, and tools/call latency
directly and through nginx with TLS. Request loops are bounded and go to loopback only.
Two sections measure local processes instead, each with its own table under its own heading:
benchmarks/peers.py compares the template's wiring with the bare SDK app, mcp-proxy and
supergateway; benchmarks/nginx_overhead.py splits what nginx + TLS adds to a call.
benchmarks/workers.py measures 1 worker process against 2, benchmarks/session_hop.py what a
session's request costs when another replica passes it on, benchmarks/observe_overhead.py what
metrics, traces and the audit line (mcp_observe.py) add to a call, and benchmarks/swarm_scaling.py
1 replica against 2 on a real single-node Docker Swarm.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

RENDER_RUNS = 7
CALLS = 200

RENDER_CASES = {
    "defaults (new project: MCPServer, streamable-http, nginx)": {},
    "mcp 1.x low-level, SSE, uv.lock, private deps, env vars, source paths": {
        "sdk": "mcp1-lowlevel",
        "transport": "sse",
        "dependencies": "uv.lock",
        "private_deps": True,
        "env_vars": ["API_KEY", "LOG_LEVEL=info"],
        "source_paths": ["server.py", "tools/", "formatting.py"],
    },
    "no nginx": {"use_nginx": False},
}
# Each case's folder is made first as its user makes it: the files its answers name (the template
# refuses a uv.lock answer without pyproject.toml and uv.lock, or source paths that are not there).
# Copied into an existing repository: the defaults are read from its code (extensions/detect.py).
RETROFIT_CASE = "src-layout fastmcp 4 app with uv.lock (tests/fixtures/fastmcp4_app)"


def timed_process(args: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args} failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def render_benchmarks() -> list[tuple[str, str, str, str]]:
    from fixture_repos import prepare_new_project

    rows = []
    for case, answers in RENDER_CASES.items():
        times, memory = [], []
        for _ in range(RENDER_RUNS):
            with tempfile.TemporaryDirectory() as destination:
                prepare_new_project(Path(destination), answers)
                data = [f"--data={key}={json.dumps(value) if isinstance(value, (bool, list)) else value}"
                        for key, value in answers.items()]  # fmt: skip
                args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet", "--vcs-ref=HEAD"]
                seconds, rss = timed_process([*args, *data, str(ROOT), destination])
                times.append(seconds)
                memory.append(rss)
        rows.append(
            (f"render: {case}", f"{statistics.median(times):.2f} s", f"{max(times):.2f} s", f"{max(memory):.0f} MiB")
        )
    times, memory = [], []
    for _ in range(RENDER_RUNS):
        with tempfile.TemporaryDirectory() as scratch:
            destination = Path(scratch) / "repo"
            shutil.copytree(ROOT / "tests/fixtures/fastmcp4_app", destination)
            args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet", "--vcs-ref=HEAD"]
            seconds, rss = timed_process([*args, str(ROOT), str(destination)])
            times.append(seconds)
            memory.append(rss)
    rows.append(
        (
            f"render into a repository: {RETROFIT_CASE}",
            f"{statistics.median(times):.2f} s",
            f"{max(times):.2f} s",
            f"{max(memory):.0f} MiB",
        )
    )
    return rows


def latency(url: str, transport: str, **kwargs) -> tuple[float, float]:
    """p50 and p95 milliseconds of CALLS sequential tools/call in one session."""
    import anyio
    from call_load import percentile
    from mcp_probe import mcp_session

    async def run() -> list[float]:
        samples = []
        async with mcp_session(url, transport, **kwargs) as session:
            for i in range(CALLS):
                started = time.perf_counter()
                await session.call_tool("add", {"a": i, "b": 1})
                samples.append((time.perf_counter() - started) * 1000)
        return samples

    samples = anyio.run(run)
    return percentile(samples, 0.5), percentile(samples, 0.95)


def memory_mib(engine, container: str) -> float:
    usage = engine.docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0].strip()
    number, unit = float(usage[:-3]), usage[-3:]
    return number * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def seconds_to_first_answer(url: str, transport: str, started: float, timeout: float = 120, **kwargs) -> float:
    """Seconds from `started` until the SDK's client gets add(2, 3) = 5 from url (not only until healthy)."""
    from mcp_probe import list_and_call

    while time.monotonic() - started < timeout:
        try:
            if list_and_call(url, transport, **kwargs)[1] == "5":
                return time.monotonic() - started
        except Exception:  # noqa: BLE001 - not up yet: refused, reset, or an error answer
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer tools/call within {timeout} s")


def docker_benchmarks(workdir: Path) -> list[tuple[str, str, str, str]]:
    from e2e.base_image import ensure_base_image, network_flags
    from e2e.certs import make_certs
    from e2e.deployment import Combination, deploy
    from e2e.docker_engine import ensure_docker_engine, stop_managed_dockerd

    engine = ensure_docker_engine()
    base = ensure_base_image(engine)
    tls = make_certs(workdir / "tls")
    flags = ["--build-arg", f"PYTHON_IMAGE={base}", *network_flags(engine)]
    base_size = int(engine.docker("image", "inspect", "--format", "{{.Size}}", base)) / 2**20
    rows = []
    from e2e.test_deployments import GENERATION_FIXTURE

    # One repository per generation, streamable-http behind nginx; and SSE for the oldest wiring.
    combinations = [Combination(fixture, "streamable-http", True) for fixture in GENERATION_FIXTURE.values()]
    combinations.append(Combination("lowlevel_repo", "sse", True))
    for combination in combinations:
        deployment = deploy(combination, workdir / combination.id, engine, tls)
        try:
            cold = deployment.build([*flags, "--no-cache"])
            source = deployment.repo / deployment.answers["source_paths"][0]
            edited = source if source.is_file() else sorted(source.rglob("*.py"))[0]
            edited.open("a").write("\n# edited\n")
            warm = deployment.build(flags)
            size = int(engine.docker("image", "inspect", "--format", "{{.Size}}", deployment.image)) / 2**20
            started = time.monotonic()
            deployment.compose_up()
            auth = deployment.auth_headers
            first_answer = seconds_to_first_answer(deployment.direct_url, combination.transport, started, headers=auth)
            deployment.wait_health("healthy")
            healthy = time.monotonic() - started
            deployment.start_nginx(workdir / combination.id / "nginx")
            idle = memory_mib(engine, deployment.service)
            direct = latency(deployment.direct_url, combination.transport, headers=auth)
            proxied = latency(deployment.proxied_url, combination.transport, headers=auth, verify=tls.ssl_context())
            busy = memory_mib(engine, deployment.service)
            name = f"{deployment.answers['sdk']} ({combination.fixture}, {combination.transport})"
            rows += [
                (f"{name}: image build, no cache / after editing the server", f"{cold:.1f} s", f"{warm:.1f} s", ""),
                (
                    f"{name}: image size / what it adds to the stand-in base ({base_size:.0f} MiB)",
                    f"{size:.0f} MiB",
                    f"{size - base_size:.0f} MiB",
                    "",
                ),
                (
                    f"{name}: compose up to first answered tools/call / to healthy",
                    f"{first_answer:.1f} s",
                    f"{healthy:.1f} s",
                    "",
                ),
                (f"{name}: container memory idle / after {2 * CALLS} calls", "", "", f"{idle:.0f} / {busy:.0f} MiB"),
                (f"{name}: tools/call direct (p50 / p95)", f"{direct[0]:.1f} ms", f"{direct[1]:.1f} ms", ""),
                (f"{name}: tools/call via nginx+TLS (p50 / p95)", f"{proxied[0]:.1f} ms", f"{proxied[1]:.1f} ms", ""),
            ]
        finally:
            deployment.stop()
    if engine.started_here:
        stop_managed_dockerd()
    return rows


def merged_results(existing: str, measured: dict[str, str], headings: tuple[str, ...]) -> str:
    """results.md with the sections measured now, the others as they were.

    Sections are keyed by their heading line ("" for the top one, before any), written in this order.
    """
    starts = sorted((existing.index(heading), heading) for heading in headings if heading and heading in existing)
    ends = [start for start, _ in starts[1:]] + [len(existing)] * bool(starts)
    sections = {"": existing[: starts[0][0]] if starts else existing}
    sections |= {heading: existing[start:end] for (start, heading), end in zip(starts, ends, strict=True)}
    sections |= measured
    texts = [sections[heading].strip("\n") for heading in headings if sections.get(heading, "").strip()]
    return "\n\n".join(texts) + "\n"


def main() -> None:
    from e2e.test_deployments import GENERATION_FIXTURE
    from nginx_overhead import HEADING as NGINX_HEADING
    from nginx_overhead import nginx_overhead_section
    from observe_overhead import HEADING as OBSERVE_HEADING
    from observe_overhead import observe_overhead_section
    from peers import HEADING as PEERS_HEADING
    from peers import Sizes, peers_section
    from session_hop import HEADING as SESSIONS_HEADING
    from session_hop import session_hop_section
    from swarm_scaling import HEADING as SWARM_HEADING
    from swarm_scaling import swarm_scaling_section
    from workers import HEADING as WORKERS_HEADING
    from workers import workers_section

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-docker", action="store_true", help="what needs no Docker engine: render, peers, nginx")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["docker", "peers", "nginx", "workers", "sessions", "observe", "swarm"],
        help="only these sections; the rest is kept",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    peers_sizes = parser.add_argument_group("peers section sizes")
    defaults = Sizes()
    spawning = "for supergateway's default mode (a server process per request)"
    for name, text in (
        ("rounds", "rounds; every way is measured once per round"),
        ("calls", "sequential calls per round at c=1"),
        ("concurrent_calls", "sequential calls per session and round at c=16"),
        ("spawning_calls", f"calls per round at c=1 {spawning}"),
        ("spawning_concurrent_calls", f"calls per session at c=16 {spawning}"),
        ("spawning_concurrent_rounds", f"rounds with c=16 {spawning}"),
    ):
        flag = f"--peer-{name.replace('_', '-')}"
        peers_sizes.add_argument(flag, type=int, default=getattr(defaults, name), help=f"{text} (%(default)s)")
    parser.add_argument(
        "--generations", nargs="+", choices=list(GENERATION_FIXTURE), metavar="SDK", help="for peers and nginx"
    )
    parser.add_argument(
        "--workers-generations",
        nargs="+",
        choices=list(GENERATION_FIXTURE),
        default=["mcp2-mcpserver", "fastmcp"],
        metavar="SDK",
        help="for workers (%(default)s)",
    )
    parser.add_argument(
        "--observe-generations",
        nargs="+",
        choices=list(GENERATION_FIXTURE),
        default=["mcp2-mcpserver", "mcp1-fastmcp"],
        metavar="SDK",
        help="for observe (%(default)s)",
    )
    options = parser.parse_args()

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    measured = {}
    if options.only is None or "docker" in options.only:  # the first table: render, then the Docker rows
        rows = render_benchmarks()
        if not options.no_docker:
            with tempfile.TemporaryDirectory() as workdir:
                rows += docker_benchmarks(Path(workdir))
        header = "| what | median / value | max / p95 | memory |\n| --- | --- | --- | --- |\n"
        table = header + "".join(f"| {' | '.join(row)} |\n" for row in rows)
        measured[""] = (
            f"# Benchmarks\n\nMeasured {when} on {machine} by `nox -s benchmarks` "
            f"({RENDER_RUNS} renders per case; {CALLS} sequential calls per latency row).\n\n{table}"
        )
    generations = options.generations or list(GENERATION_FIXTURE)
    if options.only is None or "peers" in options.only:
        sizes = Sizes(**{field.name: getattr(options, f"peer_{field.name}") for field in fields(Sizes)})
        measured[PEERS_HEADING] = peers_section(sizes, generations, machine, when)
    if options.only is None or "nginx" in options.only:
        measured[NGINX_HEADING] = nginx_overhead_section(generations, machine, when)
    if options.only is None or "workers" in options.only:
        measured[WORKERS_HEADING] = workers_section(options.workers_generations, machine, when)
    if options.only is None or "sessions" in options.only:
        measured[SESSIONS_HEADING] = session_hop_section(machine, when)
    if options.only is None or "observe" in options.only:
        measured[OBSERVE_HEADING] = observe_overhead_section(options.observe_generations, machine, when)
    if (options.only is None and not options.no_docker) or (options.only and "swarm" in options.only):
        measured[SWARM_HEADING] = swarm_scaling_section(machine, when)

    existing = options.output.read_text() if options.output.exists() else ""
    headings = ("", PEERS_HEADING, NGINX_HEADING, WORKERS_HEADING, SESSIONS_HEADING, OBSERVE_HEADING, SWARM_HEADING)
    text = merged_results(existing, measured, headings)
    options.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
