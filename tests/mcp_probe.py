"""The mcp SDK's own client, as the tests use it: connect, list the tools, call one."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ElicitResult
from sdk_envs import mcp2_client_python


@asynccontextmanager
async def mcp_session(
    url: str,
    transport: str,
    *,
    headers: dict[str, str] | None = None,
    verify: Any = True,
    auth: httpx.Auth | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
    **session_options: Any,
) -> AsyncIterator[ClientSession]:
    """An initialized client session over the given transport (auth: e.g. the SDK's OAuthClientProvider;
    http_transport: httpx's, for streamable-http, which then holds the TLS settings instead of verify;
    session_options: ClientSession's, such as elicitation_callback)."""
    timeout = httpx.Timeout(30, read=300)
    # A request whose answer never comes (its POST lost on a connection a proxy closed) fails the test
    # instead of holding it: the SDK's client waits for ever by default.
    session_options.setdefault("read_timeout_seconds", timedelta(seconds=120))
    if transport == "streamable-http":
        client = httpx.AsyncClient(headers=headers, verify=verify, timeout=timeout, auth=auth, transport=http_transport)
        async with (
            client as http,
            streamable_http_client(url, http_client=http) as (read_stream, write_stream, _),
            ClientSession(read_stream, write_stream, **session_options) as session,
        ):
            await session.initialize()
            yield session
    elif transport == "sse":

        def client_factory(headers=None, timeout=None, auth=None) -> httpx.AsyncClient:
            return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth, verify=verify)

        async with (
            sse_client(url, headers=headers, auth=auth, httpx_client_factory=client_factory) as (
                read_stream,
                write_stream,
            ),
            ClientSession(read_stream, write_stream, **session_options) as session,
        ):
            await session.initialize()
            yield session
    else:
        raise ValueError(f"not an HTTP transport: {transport}")


# A tools/call as raw HTTP, for what the SDK's client would not send (no token, a bad one, two headers).
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
TOOLS_CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "add", "arguments": {"a": 2, "b": 3}},
}


def raw_tools_call(url: str, authorization: str | None = None, **kwargs) -> httpx.Response:
    """POST the add(2, 3) tools/call to url, with this Authorization header (None: without one)."""
    headers = MCP_HEADERS | ({"Authorization": authorization} if authorization is not None else {})
    return httpx.post(url, json=TOOLS_CALL, headers=headers, timeout=30, **kwargs)


def result_text(result) -> str:
    return "".join(getattr(item, "text", "") for item in result.content)


async def _call_once(url, transport, tool, arguments, **kwargs) -> tuple[list[str], str]:
    async with mcp_session(url, transport, **kwargs) as session:
        tools = await session.list_tools()
        result = await session.call_tool(tool, arguments)
        assert not result.isError, result_text(result)
        return sorted(t.name for t in tools.tools), result_text(result)


def list_and_call(url: str, transport: str, tool: str = "add", arguments: dict | None = None, **kwargs):
    """initialize, tools/list, tools/call: returns (tool names, text of the result)."""
    arguments = {"a": 2, "b": 3} if arguments is None else arguments
    return anyio.run(lambda: _call_once(url, transport, tool, arguments, **kwargs))


async def _progress_timing(url, transport, steps, wait_seconds, **kwargs) -> dict:
    async with mcp_session(url, transport, **kwargs) as session:
        progress: list[float] = []

        async def on_progress(done, total, message):
            progress.append(time.monotonic())

        started = time.monotonic()
        result = await session.call_tool(
            "slow_progress", {"steps": steps, "wait_seconds": wait_seconds}, progress_callback=on_progress
        )
        finished = time.monotonic()
        assert not result.isError, result_text(result)
        return {
            "notifications": len(progress),
            "first_progress_after": progress[0] - started if progress else None,
            "result_after": finished - started,
            "text": result_text(result),
        }


def progress_timing(url: str, transport: str, steps: int = 3, wait_seconds: float = 3.0, **kwargs) -> dict:
    """Calls slow_progress: when the first progress notification and when the result arrived."""
    return anyio.run(lambda: _progress_timing(url, transport, steps, wait_seconds, **kwargs))


# How long a call may take before its session counts as lost (an SSE stream that ended leaves it waiting).
CALL_TIMEOUT = timedelta(seconds=20)


async def _asked_in_sessions(url, transport, sessions, calls, pause_after, on_pause, **kwargs) -> dict:
    report = {"ok": 0, "failed": 0, "errors": [], "processes": set(), "progress": 0, "new_sessions": 0, "held_by": []}
    paused, resumed = [], anyio.Event()

    async def answer(context, params):
        return ElicitResult(action="accept", content={"city": "Lisbon"})

    async def on_progress(done, total, message):
        report["progress"] += 1

    async def pause() -> None:
        paused.append(True)
        if len(paused) == sessions:
            await anyio.to_thread.run_sync(on_pause)
            resumed.set()
        await resumed.wait()

    async def one_session() -> None:
        done = 0
        while done < calls:  # a session whose process is gone: a new session, as a client starts one
            try:
                async with mcp_session(url, transport, elicitation_callback=answer, **kwargs) as session:
                    while done < calls:
                        if done == pause_after and not resumed.is_set():
                            await pause()
                        result = await session.call_tool(
                            "forecast_for_asked_city",
                            {},
                            read_timeout_seconds=CALL_TIMEOUT,
                            progress_callback=on_progress,
                        )
                        done += 1
                        text = result_text(result)
                        if result.isError or not text.startswith("Sunny in Lisbon"):
                            report["failed"] += 1
                            report["errors"].append(text)
                            continue
                        report["ok"] += 1
                        process = text.rsplit("process ", 1)[1].rstrip(")") if "(process " in text else "-"
                        report["processes"].add(process)
                        if done == 1:
                            report["held_by"].append(process)
            except Exception as error:  # noqa: BLE001 - counted, with the first ones reported
                while getattr(error, "exceptions", None):  # a task group's: what it holds
                    error = error.exceptions[0]
                report["errors"].append(f"{type(error).__name__}: {error}")
                report["new_sessions"] += 1
                if report["new_sessions"] > sessions * 2:
                    raise

    async with anyio.create_task_group() as group:
        for _ in range(sessions):
            group.start_soon(one_session)
    return report


def asked_in_sessions(
    url: str, transport: str, sessions: int = 4, calls: int = 5, pause_after: int = -1, on_pause=None, **kwargs
) -> dict:
    """`sessions` clients on the 2025-11-25 revision (this SDK's client), each calling a tool that
    asks the client in the middle of the call (ctx.elicit(), a request over the session) and reports
    progress, `calls` times: what succeeded, what failed and why, which processes answered and which
    held each session first (held_by). A session that fails (its process is gone) is replaced by a
    new one, which goes on. With pause_after, every session stops after that many calls until
    on_pause() has run once (it may stop a replica), then goes on."""
    return anyio.run(lambda: _asked_in_sessions(url, transport, sessions, calls, pause_after, on_pause, **kwargs))


def probe_with_mcp2_client(url: str, transport: str, **request) -> dict:
    """The same calls with the mcp 2.x SDK's client (tests/mcp2_probe.py in its own environment)."""
    script = Path(__file__).with_name("mcp2_probe.py")
    payload = json.dumps({"url": url, "transport": transport, **request})
    result = subprocess.run(
        [str(mcp2_client_python()), str(script), payload], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"mcp 2.x client failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def ask_with_mcp2_client(**request) -> dict:
    """A tool that asks the client something, called by the mcp 2.x SDK's client on the 2026-07-28
    revision (tests/mrtr/client.py, which says what `request` holds): its report."""
    script = Path(__file__).with_name("mrtr") / "client.py"
    result = subprocess.run(
        [str(mcp2_client_python()), str(script), json.dumps(request)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"mcp 2.x client failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout)
