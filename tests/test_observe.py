"""What a deployment tells its operators (mcp_observe.py), for every SDK generation and version, on
this machine: real servers, the SDK's own client, the packages the image installs, an OTLP receiver.

- Metrics: the mcp.server.operation.duration histogram by method, tool and error type, on the
  metrics port only, counted across workers.
- Traces: the SDK's spans (mcp 2.x, fastmcp 3 and 4) or the wiring's (mcp 1.x, fastmcp 2), named
  and attributed as the MCP conventions say, each the child of the client's span, whether the
  client put its trace context in the request's `_meta` or in the `traceparent` header.
- Audit: one JSON line per tool call, naming the client whose token was used, never the arguments.
- Readiness: /ready is 503 while a worker is still starting and while the server drains.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import shutil
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import anyio
import httpx
import pytest
from conftest import render
from e2e.ports import free_port
from mcp_probe import MCP_HEADERS, TOOLS_CALL, mcp_session
from otlp_receiver import otlp_receiver
from pytest_copie.plugin import Copie
from sdk_envs import observability_packages, sdk_python, sdk_versions
from served_project import add_client, serving

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS = sdk_versions()
ENDPOINTS = {"streamable-http": "/mcp", "sse": "/sse"}
CLIENT = "alice-laptop-of-the-research-team"


def traceparent() -> tuple[str, str, str]:
    """A W3C traceparent as a client's tracer makes one: (header, trace id, span id)."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


@pytest.fixture(scope="module")
def projects(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Per generation: a project with auth=tokens, and the token DEPLOYMENT.md's commands made for CLIENT."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("observe"), config_file=None)
    made = {}
    for sdk in dict.fromkeys(version.sdk for version in VERSIONS):
        project = render(copie, sdk=sdk, use_nginx=False, auth="tokens")
        made[sdk] = project, add_client(project, CLIENT)
    return made


def observed_settings(receiver_url: str | None, metrics_port: int) -> dict[str, str]:
    settings = {
        "MCP_AUTH": "tokens",
        "MCP_METRICS_PORT": str(metrics_port),
        "MCP_OBSERVABILITY_PACKAGES": str(observability_packages()),
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # spans leave at once, not every 5 s
    }
    if receiver_url:
        settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver_url
    return settings


def histogram_counts(metrics_port: int) -> dict[tuple[str, str, str], float]:
    """mcp_server_operation_duration_seconds_count by (method, tool, error type), as Prometheus reads it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("mcp_server_operation_duration_seconds_count{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            key = (labels["mcp_method_name"], labels["gen_ai_tool_name"], labels["error_type"])
            counts[key] = float(line.rsplit(" ", 1)[1])
    return counts


def audit_lines(project: Path) -> list[dict]:
    lines = []
    for line in (project / "serve.log").read_text().splitlines():
        if line.startswith('{"time"') and '"event":"mcp.tool_call"' in line:
            lines.append(json.loads(line))
    return lines


async def _calls(url: str, transport: str, token: str, in_meta: str, in_header: str) -> list[bool]:
    """add(2, 3) with the trace context in _meta, a call of a tool that does not exist, then add(2, 3)
    in another session whose HTTP requests carry the trace context as a header: isError of each."""
    authorization = {"Authorization": f"Bearer {token}"}
    results = []
    async with mcp_session(url, transport, headers=authorization) as session:
        results.append((await session.call_tool("add", {"a": 2, "b": 3}, meta={"traceparent": in_meta})).isError)
        try:
            results.append((await session.call_tool("no_such_tool", {})).isError)
        except Exception:  # an SDK that answers a JSON-RPC error instead of a tool error
            results.append(True)
    async with mcp_session(url, transport, headers=authorization | {"traceparent": in_header}) as session:
        results.append((await session.call_tool("add", {"a": 2, "b": 3})).isError)
    return results


# streamable-http on every version; SSE (its answers come on another stream) on the newest of each
# generation and SDK line.
CASES = [(version, "streamable-http") for version in VERSIONS] + [
    (version, "sse") for version in {(v.sdk, v.requirement.split("==")[1][0]): v for v in VERSIONS}.values()
]


@pytest.mark.parametrize(("version", "transport"), CASES, ids=[f"{v.id}-{t}" for v, t in CASES])
def test_calls_are_counted_traced_and_audited(projects, version, transport, tmp_path):
    source, token = projects[version.sdk]
    project = tmp_path / "project"
    shutil.copytree(source, project)
    metrics_port = free_port()
    in_meta, meta_trace, meta_span = traceparent()
    in_header, header_trace, header_span = traceparent()
    with (
        otlp_receiver() as receiver,
        serving(
            project,
            sdk_python(version),
            MCP_SERVE_TRANSPORT=transport,
            **observed_settings(receiver.url, metrics_port),
        ) as base,
    ):
        errors = anyio.run(_calls, base + ENDPOINTS[transport], transport, token, in_meta, in_header)
        assert errors == [False, True, False]
        counts = histogram_counts(metrics_port)
        # The server's own port never serves metrics.
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(base + "/metrics", timeout=5)
        from_meta = receiver.wait_for(lambda span: span.trace_id == meta_trace and span.name == "tools/call add")
        from_header = receiver.wait_for(lambda span: span.trace_id == header_trace and span.name == "tools/call add")
    log = (project / "serve.log").read_text()
    service_name = re.search(r'^SERVICE_NAME = "(.*)"$', (project / "mcp_serve.py").read_text(), re.M).group(1)

    assert counts[("tools/call", "add", "")] == 2, counts
    failed = [key for key in counts if key[0] == "tools/call" and key[1] == "no_such_tool"]
    # A tool's error result (tool_error), or a JSON-RPC error's code (mcp 2.x's low-level server
    # answers an exception in its handler with one).
    assert len(failed) == 1 and re.fullmatch(r"tool_error|-?\d+", failed[0][2]), counts
    assert counts[("initialize", "", "")] == 2, counts

    # Each call's span is the child of the client's span, and carries the conventions' attributes.
    for spans, parent in ((from_meta, meta_span), (from_header, header_span)):
        assert [span.parent_span_id for span in spans] == [parent], (spans, log[-2000:])
        span = spans[0]
        assert span.kind == 2  # SERVER
        assert span.attributes["mcp.method.name"] == "tools/call"
        # fastmcp 3.0's own spans name the tool only in their name (and its own fastmcp.component.key).
        if version.requirement != "fastmcp==3.0.0":
            assert span.attributes["gen_ai.tool.name"] == "add"
        # OTEL_SERVICE_NAME unset: the deployment's name.
        assert span.service == service_name, span.service

    audits = audit_lines(project)
    assert [(line["tool"], line["outcome"]) for line in audits] == [
        ("add", "ok"),
        ("no_such_tool", "tool_error" if failed[0][2] == "tool_error" else "error"),
        ("add", "ok"),
    ], audits
    assert {line["client"] for line in audits} == {CLIENT}
    assert all(line["duration_ms"] > 0 and "arguments" not in line for line in audits)
    assert audits[0].get("trace_id") in (None, meta_trace)
    assert token not in log


def test_nothing_is_exported_or_served_unless_asked(projects, tmp_path):
    """Without OTEL_* settings no span leaves, without MCP_METRICS_PORT no port is opened, and
    MCP_AUDIT=off writes no audit line; MCP_AUDIT=arguments adds the arguments."""
    source, token = projects["mcp2-mcpserver"]
    version = next(v for v in VERSIONS if v.sdk == "mcp2-mcpserver")
    results = {}
    for audit in ("off", "arguments"):
        project = tmp_path / audit
        shutil.copytree(source, project)
        with (
            otlp_receiver() as receiver,
            serving(project, sdk_python(version), MCP_AUTH="tokens", MCP_AUDIT=audit) as base,
        ):
            in_meta, _, _ = traceparent()
            anyio.run(_calls, base + "/mcp", "streamable-http", token, in_meta, in_meta)
            time.sleep(0.5)
            results[audit] = receiver.requests, audit_lines(project), (project / "serve.log").read_text()
    requests, audits, log = results["off"]
    assert requests == 0 and audits == []
    assert "no metrics" in log and "traces" not in log.split("Serving", 1)[1].splitlines()[0]
    _, audits, _ = results["arguments"]
    assert audits[0]["arguments"] == {"a": 2, "b": 3}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_spans_still_waiting_are_sent_when_the_server_stops(projects, tmp_path, workers):
    """SIGTERM (docker stop) right after a call, before the exporter's next batch (every 5 s by
    default): the server sends the span before it ends."""
    source, token = projects["mcp1-fastmcp"]
    version = next(v for v in VERSIONS if v.sdk == "mcp1-fastmcp")
    project = tmp_path / "project"
    shutil.copytree(source, project)
    in_meta, trace_id, _ = traceparent()
    with otlp_receiver() as receiver:
        settings = {
            "MCP_AUTH": "tokens",
            "MCP_SERVE_WORKERS": workers,
            "MCP_OBSERVABILITY_PACKAGES": str(observability_packages()),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        }
        with serving(project, sdk_python(version), **settings) as base:
            anyio.run(_calls, base + "/mcp", "streamable-http", token, in_meta, in_meta)
            assert receiver.spans == []  # not sent yet: the batch waits
        # serving() ended the server with SIGTERM, as docker stop does.
        spans = receiver.wait_for(lambda span: span.trace_id == trace_id, timeout=5, at_least=3)
    assert [span.name for span in spans].count("tools/call add") == 2, spans


def test_metrics_of_every_worker_add_up(projects, tmp_path):
    """Two workers: whichever answers the scrape, it counts the calls both served."""
    source, token = projects["mcp1-fastmcp"]
    version = next(v for v in VERSIONS if v.sdk == "mcp1-fastmcp")
    project = tmp_path / "project"
    shutil.copytree(source, project)
    metrics_port = free_port()
    settings = observed_settings(None, metrics_port) | {"MCP_SERVE_WORKERS": "2"}
    with serving(project, sdk_python(version), **settings) as base:

        async def twenty_sessions():
            for _ in range(20):
                async with mcp_session(
                    base + "/mcp", "streamable-http", headers={"Authorization": f"Bearer {token}"}
                ) as session:
                    await session.call_tool("add", {"a": 1, "b": 1})

        anyio.run(twenty_sessions)
        scrapes = {histogram_counts(metrics_port)[("tools/call", "add", "")] for _ in range(10)}
        served_by = {line["time"] and line.get("session") for line in audit_lines(project)}
    assert scrapes == {20.0}
    assert len(served_by) >= 1


def ready(connection: http.client.HTTPConnection) -> tuple[int, str]:
    connection.request("GET", "/ready")
    response = connection.getresponse()
    return response.status, response.read().decode()


@pytest.fixture
def slow_project(projects, tmp_path) -> Path:
    """The mcp 2.x project with a tool `slow` that takes 3 s; the second process to import the
    server takes 3 s longer (a worker still starting)."""
    source, _ = projects["mcp2-mcpserver"]
    project = tmp_path / "project"
    shutil.copytree(source, project)
    server = project / "server.py"
    server.write_text(
        "import os, time\n"
        "try:\n"
        "    os.close(os.open('first-import', os.O_CREAT | os.O_EXCL))\n"
        "except FileExistsError:\n"
        "    time.sleep(3)\n"
        + server.read_text().replace(
            "\n\nif __name__",
            "\n\n@mcp.tool()\nasync def slow() -> str:\n"
            '    """Takes 3 s."""\n    import anyio\n\n    await anyio.sleep(3)\n    return "done"\n\n\nif __name__',
        )
    )
    return project


def test_ready_is_503_while_a_worker_starts(slow_project):
    """Two workers, the second still importing the server: /ready (and /healthz) say so until both serve."""
    version = next(v for v in VERSIONS if v.sdk == "mcp2-mcpserver")
    port = free_port()
    answers = []  # what /ready answered while the server started, until its first 200

    def poll_ready():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not answers or answers[-1][0] != 200):
            try:
                answers.append(ready(http.client.HTTPConnection("127.0.0.1", port, timeout=5)))
            except OSError:  # not listening yet
                pass
            time.sleep(0.1)

    poller = threading.Thread(target=poll_ready)
    poller.start()
    settings = {"MCP_AUTH": "tokens", "MCP_SERVE_WORKERS": "2", "MCP_SERVE_PORT": str(port)}
    with serving(slow_project, sdk_python(version), **settings):
        poller.join()
    starting = [answer for answer in answers if answer[0] == 503]
    # The worker that imports second may be either.
    assert starting and all(re.match(r"worker [12] of 2 not serving", text) for _, text in starting), answers
    assert answers[-1] == (200, "ok")


def test_ready_is_503_while_draining(projects, slow_project):
    """SIGTERM while a call runs: /ready turns 503 (asked on a connection opened before, as new ones
    are no longer taken), /healthz stays 200, and the call still finishes."""
    version = next(v for v in VERSIONS if v.sdk == "mcp2-mcpserver")
    _, token = projects["mcp2-mcpserver"]
    (slow_project / "first-import").touch()  # one worker: no wait
    with serving(slow_project, sdk_python(version), MCP_AUTH="tokens") as base:
        connection = http.client.HTTPConnection(base.removeprefix("http://").split(":")[0], int(base.rsplit(":", 1)[1]))
        before = ready(connection)

        outcome = {}

        def slow_call():
            # One request on one connection, as a proxy in front sends it (the SDK's client opens
            # more during a call, which a draining server no longer takes).
            call = {**TOOLS_CALL, "params": {"name": "slow", "arguments": {}}}
            headers = MCP_HEADERS | {"Authorization": f"Bearer {token}"}
            response = httpx.post(base + "/mcp", json=call, headers=headers, timeout=30)
            outcome["status"], outcome["answered"] = response.status_code, '"done"' in response.text

        caller = threading.Thread(target=slow_call)
        caller.start()
        time.sleep(1)
        base.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        draining = ready(connection)
        connection.request("GET", "/healthz")
        healthz = connection.getresponse()
        healthz.read()
        caller.join(timeout=15)
    assert before == (200, "ok")
    assert draining == (503, "draining: stopping once the calls in progress finish"), draining
    assert healthz.status == 200
    assert outcome == {"status": 200, "answered": True}
