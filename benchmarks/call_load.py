"""The client side of benchmarks/peers.py: tools/call with the mcp SDK's own client, one session or many.

Why connections are kept here: the mcp SDK's client (1.x and 2.x) closes a streamed (SSE) response
as soon as its result has arrived, before the response's last chunk, and httpx can only pool a
connection whose response was read to its end. So with the client as shipped every call opens a
new connection, and over https makes a new TLS handshake (about 1 ms of CPU on this machine,
client and nginx together). Clients on Node (Claude Code, VS Code, Cursor) read a response to its
end and keep the connection. `read_to_end=True` gives the SDK's client that behaviour, so what is
measured is the server and the proxy, not handshakes; `read_to_end=False` is the client as shipped.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import httpx
from mcp import ClientSession
from mcp_probe import mcp_session, result_text

# A response still streaming this long after its result is not one of ours: close it, as the client would.
DRAIN_SECONDS = 5


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class ReadToEndStream(httpx.AsyncByteStream):
    """A response body that, when closed early, is first read to its end, so its connection is pooled."""

    def __init__(self, body: httpx.AsyncByteStream):
        self.body = body
        self.chunks = None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.chunks = self.body.__aiter__()
        async for chunk in self.chunks:
            yield chunk

    async def aclose(self) -> None:
        if self.chunks is not None:
            with anyio.move_on_after(DRAIN_SECONDS):
                async for _ in self.chunks:
                    pass
        await self.body.aclose()


@dataclass
class CountingTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, counting the TCP connections it opens; optionally reading POST responses to the end."""

    verify: ssl.SSLContext | bool
    read_to_end: bool
    connections: int = 0
    inner: httpx.AsyncHTTPTransport = field(init=False)

    def __post_init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(verify=self.verify)

    async def trace(self, event: str, _info: dict) -> None:
        if event == "connection.connect_tcp.complete":
            self.connections += 1

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.extensions["trace"] = self.trace
        response = await self.inner.handle_async_request(request)
        # Only POST: the GET stream a stateful server keeps open never ends by itself.
        if self.read_to_end and request.method == "POST":
            response.stream = ReadToEndStream(response.stream)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True)
class Endpoint:
    """Where one way serves MCP, and how the client reaches it."""

    url: str
    headers: dict[str, str] | None = None
    verify: ssl.SSLContext | bool = True
    read_to_end: bool = True


@dataclass
class Client:
    session: ClientSession
    transport: CountingTransport


@asynccontextmanager
async def open_clients(endpoint: Endpoint, count: int) -> AsyncIterator[list[Client]]:
    """count initialized sessions, each with its own connection pool, opened at once.

    At once because a gateway that starts a server process per request takes most of a second per request.
    """
    opened: list[Client] = []
    all_open, done = anyio.Event(), anyio.Event()

    async def hold() -> None:
        transport = CountingTransport(endpoint.verify, endpoint.read_to_end)
        async with mcp_session(
            endpoint.url, "streamable-http", headers=endpoint.headers, http_transport=transport
        ) as session:
            opened.append(Client(session, transport))
            if len(opened) == count:
                all_open.set()
            await done.wait()

    async with anyio.create_task_group() as holders:
        for _ in range(count):
            holders.start_soon(hold)
        await all_open.wait()
        try:
            yield opened
        finally:
            done.set()


@dataclass(frozen=True)
class Load:
    """What one batch of calls took: each call's latency, the batch's wall time, connections opened."""

    latencies_ms: list[float]
    seconds: float
    connections: int

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.5)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 0.95)

    @property
    def calls_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def connections_per_call(self) -> float:
        return self.connections / len(self.latencies_ms)


async def call_load(clients: list[Client], calls_per_client: int) -> Load:
    """Every client makes calls_per_client sequential add() calls, all clients at the same time."""
    latencies: list[float] = []
    connections_before = sum(client.transport.connections for client in clients)

    async def sequential(session: ClientSession) -> None:
        for a in range(calls_per_client):
            started = time.perf_counter()
            result = await session.call_tool("add", {"a": a, "b": 1})
            latencies.append((time.perf_counter() - started) * 1000)
            if result.isError or result_text(result) != str(a + 1):
                raise RuntimeError(f"add({a}, 1) answered {result_text(result)!r}")

    started = time.perf_counter()
    async with anyio.create_task_group() as callers:
        for client in clients:
            callers.start_soon(sequential, client.session)
    seconds = time.perf_counter() - started
    connections = sum(client.transport.connections for client in clients) - connections_before
    return Load(latencies, seconds, connections)
