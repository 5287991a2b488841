"""wrk (C, Debian's package) sending the stateless tools/call add(2, 3): the load of the benchmarks
whose server side costs less CPU per call than the mcp SDK's Python client would."""

from __future__ import annotations

import re
from pathlib import Path

_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":3}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
"""


def write_tools_call_script(path: Path, token: str | None = None, headers: dict[str, str] | None = None) -> Path:
    """The wrk Lua script sending tools/call add(2, 3), with a bearer token and other headers when given."""
    headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
    path.write_text(_SCRIPT + "".join(f'wrk.headers["{name}"] = "{value}"\n' for name, value in headers.items()))
    return path


def wrk_args(threads: int, connections: int, seconds: int, script: Path, url: str) -> list[str]:
    """wrk's command line: `connections` kept open for `seconds`, with the latency distribution."""
    duration = f"{seconds}s"
    return ["wrk", "-t", str(threads), "-c", str(connections), "-d", duration, "--latency", "-s", str(script), url]


def parse_wrk(out: str) -> tuple[float, dict[str, float]]:
    """(calls/s, {percentile: ms}) from wrk's --latency report; every answer must have been a 200."""
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    latency = {percent: _milliseconds(text) for percent, text in re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.M)}
    return float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)[1]), latency


def _milliseconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
