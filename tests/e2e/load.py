"""Concurrent MCP clients calling a tool in a loop, counting every call that did not succeed.

Each client is the mcp SDK's own: one session (initialize), then tools/call after tools/call
until told to stop. A call fails when it raises, times out, or returns an error result; its
exception is kept so a failure says what happened.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import anyio
from mcp_probe import mcp_session, result_text

CALL_TIMEOUT = timedelta(seconds=20)


@dataclass
class Failure:
    started: float  # time.monotonic() when the call was sent
    what: str

    def __repr__(self) -> str:
        return self.what


@dataclass
class LoadResult:
    calls: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0


class Load:
    """`clients` sessions calling add(a, b) until stop(), in a thread of their own."""

    def __init__(self, url: str, transport: str, clients: int = 10, **session_kwargs):
        self.url, self.transport, self.clients, self.session_kwargs = url, transport, clients, session_kwargs
        self.result = LoadResult()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: anyio.run(self._run), daemon=True)

    async def _client(self, number: int) -> None:
        i = 0
        try:
            async with mcp_session(self.url, self.transport, **self.session_kwargs) as session:
                while not self._stop.is_set():
                    i += 1
                    started = time.monotonic()
                    try:
                        arguments = {"a": number, "b": i}
                        result = await session.call_tool("add", arguments, read_timeout_seconds=CALL_TIMEOUT)
                        if result.isError or result_text(result) != str(number + i):
                            what = f"client {number} call {i}: {result_text(result)!r}"
                            self.result.failures.append(Failure(started, what))
                    except Exception as error:  # noqa: BLE001 - every failure is counted and told
                        self.result.failures.append(Failure(started, f"client {number} call {i}: {error!r}"))
                    self.result.calls += 1
        except Exception as error:  # noqa: BLE001 - a session that could not start or broke
            self.result.failures.append(Failure(time.monotonic(), f"client {number} session: {error!r}"))

    async def _run(self) -> None:
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            for number in range(self.clients):
                group.start_soon(self._client, number)
        self.result.seconds = time.monotonic() - started

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> LoadResult:
        self._stop.set()
        self._thread.join(timeout=120)
        assert not self._thread.is_alive(), "the clients did not stop"
        return self.result

    def __exit__(self, *exc) -> None:
        if self._thread.is_alive():
            self.stop()
