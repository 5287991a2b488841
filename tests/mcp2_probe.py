"""The mcp 2.x SDK's own client, run in a virtual environment of its own (the tests' is mcp 1.x).

usage: python mcp2_probe.py '{"url": ..., "transport": "streamable-http"|"sse", "headers": {...},
                             "ca_file": PATH|null, "tool": "add", "arguments": {...},
                             "progress_steps": 0, "wait_seconds": 0}'
Prints one JSON object: tools, text, protocol_version, and progress timings when asked for.
"""

from __future__ import annotations

import json
import ssl
import sys
import time

import anyio
import httpx2
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client


def transport(request: dict):
    verify = ssl.create_default_context(cafile=request["ca_file"]) if request.get("ca_file") else True
    headers = request.get("headers") or {}
    timeout = httpx2.Timeout(30, read=300)
    if request["transport"] == "streamable-http":
        http = httpx2.AsyncClient(headers=headers, verify=verify, timeout=timeout)
        return streamable_http_client(request["url"], http_client=http)

    def factory(headers=None, timeout=None, auth=None):
        return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth, verify=verify)

    return sse_client(request["url"], headers=headers, httpx_client_factory=factory)


async def probe(request: dict) -> dict:
    async with Client(transport(request)) as client:
        tools = await client.list_tools()
        result = await client.call_tool(request.get("tool", "add"), request.get("arguments", {"a": 2, "b": 3}))
        report = {
            "tools": sorted(tool.name for tool in tools.tools),
            "text": "".join(getattr(item, "text", "") for item in result.content),
            "is_error": bool(result.is_error),
            "protocol_version": client.protocol_version,
        }
        if request.get("progress_steps"):
            progress: list[float] = []

            async def on_progress(done, total, message):
                progress.append(time.monotonic())

            started = time.monotonic()
            slow = await client.call_tool(
                "slow_progress",
                {"steps": request["progress_steps"], "wait_seconds": request["wait_seconds"]},
                progress_callback=on_progress,
            )
            report |= {
                "notifications": len(progress),
                "first_progress_after": progress[0] - started if progress else None,
                "result_after": time.monotonic() - started,
                "progress_text": "".join(getattr(item, "text", "") for item in slow.content),
            }
        return report


if __name__ == "__main__":
    print(json.dumps(anyio.run(probe, json.loads(sys.argv[1]))))
