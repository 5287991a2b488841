"""What a deployment tells its operators, on real components: a compose deployment of a fixture
repository behind the rendered nginx with TLS, its calls made by the SDK's own client with a token
made as DEPLOYMENT.md says.

- Debian's Prometheus scrapes the port docker compose publishes the metrics on, and the test reads
  the mcp.server.operation.duration histogram back through Prometheus's HTTP API;
- the suite's OTLP receiver, on the Docker bridge's address as a collector would be, gets the span
  of the call made through nginx, the child of the client's span;
- the container's log has the audit line, naming the client whose token was used.

mcp 1.x (the wiring's spans) and mcp 2.x (the SDK's own); tests/test_observe.py runs every version.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import time

import anyio
import httpx
import pytest
from mcp_probe import mcp_session
from otlp_receiver import otlp_receiver

from .debian import ensure_packages
from .deployment import Combination, deploy
from .ports import free_port, wait_for_port

FIXTURES = ("fastmcp_repo", "mcp2_factory")
CLIENT = "e2e-client"  # the name DEPLOYMENT.md's commands gave the client's token
CALLS = 12
PROMETHEUS = "/usr/bin/prometheus"


def bridge_address(docker_engine) -> str:
    """This machine's address on the Docker bridge: where the containers reach a collector on it."""
    options = '{{index .Options "com.docker.network.bridge.name"}}'
    bridge = docker_engine.docker("network", "inspect", "bridge", "--format", options).strip() or "docker0"
    addresses = subprocess.run(["ip", "-4", "-o", "addr", "show", bridge], capture_output=True, text=True).stdout
    return re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", addresses).group(1)


class Prometheus:
    """Debian's Prometheus, scraping one target every second, its data in a folder of the test's."""

    def __init__(self, folder, target: str):
        ensure_packages("prometheus")
        self.port = free_port()
        (folder / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n"
            f"scrape_configs:\n  - job_name: mcp\n    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = (folder / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, timeout=30)

    def query(self, expression: str) -> list[dict]:
        answer = httpx.get(f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": expression}, timeout=10)
        answer.raise_for_status()
        return answer.json()["data"]["result"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


@pytest.mark.parametrize("fixture", FIXTURES)
def test_prometheus_reads_the_histogram_and_the_collector_gets_linked_spans(
    fixture, tmp_path, docker_engine, docker_build_flags, tls_certs
):
    deployment = deploy(Combination(fixture, "streamable-http", True), tmp_path, docker_engine, tls_certs)
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    prometheus = None
    try:
        deployment.build(docker_build_flags)
        with otlp_receiver(host=bridge_address(docker_engine)) as receiver:
            deployment.compose_up(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url)
            deployment.wait_health("healthy")
            deployment.start_nginx(tmp_path / "nginx")
            prometheus = Prometheus(tmp_path, f"127.0.0.1:{deployment.metrics_port}")

            async def calls():
                async with mcp_session(
                    deployment.proxied_url,
                    "streamable-http",
                    headers=deployment.auth_headers,
                    verify=tls_certs.ssl_context(),
                ) as session:
                    meta = {"traceparent": f"00-{trace_id}-{parent}-01"}
                    for _ in range(CALLS):
                        assert not (await session.call_tool("add", {"a": 2, "b": 3}, meta=meta)).isError

            anyio.run(calls)
            # The batch processor sends spans every 5 s.
            spans = receiver.wait_for(
                lambda span: span.trace_id == trace_id and span.name == "tools/call add", 20, at_least=CALLS
            )
            query = (
                'sum(mcp_server_operation_duration_seconds_count{mcp_method_name="tools/call",gen_ai_tool_name="add"})'
            )
            deadline, scraped = time.monotonic() + 30, []
            while time.monotonic() < deadline:
                scraped = prometheus.query(query)
                if scraped and float(scraped[0]["value"][1]) >= CALLS:
                    break
                time.sleep(1)
            buckets = prometheus.query('mcp_server_operation_duration_seconds_bucket{gen_ai_tool_name="add",le="+Inf"}')
        logs = deployment.logs()
    finally:
        if prometheus:
            prometheus.stop()
        deployment.stop()

    assert scraped and float(scraped[0]["value"][1]) == CALLS, scraped
    assert buckets and {item["metric"]["mcp_method_name"] for item in buckets} == {"tools/call"}
    assert len(spans) == CALLS and {span.parent_span_id for span in spans} == {parent}, spans[:2]
    assert all(span.attributes["mcp.method.name"] == "tools/call" for span in spans)
    audits = re.findall(r'\{"time":"[^"]+","event":"mcp.tool_call","tool":"add","outcome":"ok".*', logs)
    assert len(audits) == CALLS and all(f'"client":"{CLIENT}"' in line for line in audits), logs[-3000:]
    assert deployment.client_token not in logs
