"""Sessions that live in one server process, reachable through any: the session router of mcp_serve.py.

This file belongs to mcp-docker-template: `copier update` keeps it current.

An SSE session, or a streamable-http session of the SDK's session manager (sessions: stateful),
lives in the process that opened it: its stream, and the requests the server sends the client in
the middle of a call (ctx.elicit(), sampling). A proxy or the kernel may send the session's next
request to another worker of the container or another replica. So each session id this process
hands out names its owner, and a request for a session of another is passed on to it:

    <the SDK's id>.<owner: address, port, worker><signature>

The id the SDK minted comes back to it unchanged. An owner on another address is only reached
when the keys every replica shares (MCP_REPLICA_KEYS) sign it, so a made-up id cannot send the
server's requests anywhere. A request for a session whose process is gone answers 404, after which
a client starts a new session, as the protocol says.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import socket
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import anyio
import h11
from starlette.datastructures import Headers

SESSION_HEADER = b"mcp-session-id"
# The query parameter of SSE's message endpoint (/messages/?session_id=...).
SSE_SESSION_PARAMETER = "session_id"
# Set on a request passed on to another replica: it is not passed on again.
FORWARDED_HEADER = b"x-mcp-session-forwarded"
# Headers of one hop (connection-level, and the body's length, which the next hop sets), not passed on.
ONE_HOP = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade", b"proxy-connection", b"content-length"}
)
SIGNATURE_BYTES = 8
CONNECT_SECONDS = 2
# Connections kept open to each process requests are passed on to, for the next ones.
IDLE_CONNECTIONS = 8
# The SDK's session ids, in the endpoint event of an SSE stream.
SSE_ENDPOINT_ID = re.compile(rb"(session_id=)([0-9a-f]{32})")


@dataclass(frozen=True)
class Owner:
    """The process a session lives in: a replica (its address and port) and a worker in it."""

    address: str
    port: int
    worker: int

    def packed(self) -> bytes:
        return ipaddress.ip_address(self.address).packed + struct.pack("!HB", self.port, self.worker)

    @classmethod
    def unpacked(cls, data: bytes) -> Owner:
        address, (port, worker) = data[:-3], struct.unpack("!HB", data[-3:])
        return cls(str(ipaddress.ip_address(address)), port, worker)


def own_address() -> str:
    """This replica's address as the other replicas reach it: MCP_SESSION_ADDRESS, or the address
    the container's host name resolves to (Swarm and Kubernetes write it into /etc/hosts)."""
    configured = os.environ.get("MCP_SESSION_ADDRESS", "").strip()
    if configured:
        return str(ipaddress.ip_address(configured))
    with contextlib.suppress(OSError):
        return socket.gethostbyname(socket.gethostname())
    return "127.0.0.1"


def worker_socket(port: int, worker: int) -> str:
    """The Unix socket a worker also listens on, for the requests other workers pass on to it."""
    return str(Path(tempfile.gettempdir()) / f"mcp-serve-{port}-worker-{worker}.sock")


def listening_unix_socket(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a worker that died
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    os.chmod(path, 0o600)
    sock.listen(2048)
    return sock


class Routes:
    """Session ids that name their owner: minted here, read by every process of the deployment."""

    def __init__(self, me: Owner, keys: list[str]):
        self.me = me
        self.keys = [key.encode() for key in keys]

    def _signature(self, key: bytes, owner: bytes, session_id: str) -> bytes:
        return hmac.new(key, owner + session_id.encode(), hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def mint(self, session_id: str) -> str:
        owner = self.me.packed()
        return f"{session_id}.{(owner + self._signature(self.keys[0], owner, session_id)).hex()}"

    def read(self, routed: str) -> tuple[str, Owner | None, bool]:
        """(the SDK's id, its owner or None for an id without one, whether the keys signed it)."""
        session_id, dot, route = routed.rpartition(".")
        try:
            data = bytes.fromhex(route) if dot else b""
            owner = Owner.unpacked(data[:-SIGNATURE_BYTES]) if len(data) in (4 + 3 + 8, 16 + 3 + 8) else None
        except ValueError:
            owner = None
        if owner is None:
            return routed, None, False
        packed, signature = data[:-SIGNATURE_BYTES], data[-SIGNATURE_BYTES:]
        signed = any(hmac.compare_digest(self._signature(key, packed, session_id), signature) for key in self.keys)
        return session_id, owner, signed


class SessionRouter:
    """ASGI middleware: names this process in the session ids it hands out, and passes a request
    for another process's session on to it (another worker over its Unix socket, another replica
    over the network)."""

    def __init__(self, app, routes: Routes, sse_path: str | None = None):
        self.app = app
        self.routes = routes
        self.sse_path = sse_path  # where SSE streams open, announcing their message endpoint
        self.forward = Forwarder()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        routed, where = self._session_of(scope)
        if routed is None:
            await self.app(scope, receive, self._minting(send, scope))
            return
        session_id, owner, signed = self.routes.read(routed)
        me = self.routes.me
        if owner is None or owner == me:
            if owner is not None:
                self._set_session(scope, where, session_id)
            await self.app(scope, receive, self._minting(send, scope))
        elif (owner.address, owner.port) == (me.address, me.port):
            path = worker_socket(me.port, owner.worker)
            await self.forward(scope, receive, send, where, path, lambda: asyncio.open_unix_connection(path))
        elif signed and FORWARDED_HEADER.decode() not in Headers(scope=scope):
            target = f"{owner.address}:{owner.port}"
            await self.forward(
                scope, receive, send, where, target, lambda: asyncio.open_connection(owner.address, owner.port)
            )
        else:
            await session_not_found(send, where)

    @staticmethod
    def _session_of(scope) -> tuple[str | None, str]:
        header = Headers(scope=scope).get(SESSION_HEADER.decode())
        if header:
            return header, "header"
        if b"session_id=" in scope.get("query_string", b""):
            for name, value in parse_qsl(scope["query_string"].decode("latin-1")):
                if name == SSE_SESSION_PARAMETER:
                    return value, "query"
        return None, ""

    @staticmethod
    def _set_session(scope, where: str, session_id: str) -> None:
        if where == "header":
            scope["headers"] = [
                (name, session_id.encode() if name.lower() == SESSION_HEADER else value)
                for name, value in scope["headers"]
            ]
        else:
            query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            scope["query_string"] = urlencode(
                [(name, session_id if name == SSE_SESSION_PARAMETER else value) for name, value in query]
            ).encode()

    def _minting(self, send, scope):
        """send, with this process named in every session id the SDK hands out: the Mcp-Session-Id
        header, and the message endpoint in an SSE stream's first event."""
        # An SSE stream's first event announces its session's message endpoint: read until it is named.
        stream = {"endpoint_named": scope["method"] != "GET" or _own_path(scope).rstrip("/") != self.sse_path}

        async def minted(message):
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, self.routes.mint(value.decode()).encode() if name.lower() == SESSION_HEADER else value)
                    for name, value in message.get("headers", [])
                ]
            elif message["type"] == "http.response.body" and not stream["endpoint_named"]:
                body = message.get("body", b"")
                if SSE_ENDPOINT_ID.search(body):
                    body = SSE_ENDPOINT_ID.sub(lambda m: m[1] + self.routes.mint(m[2].decode()).encode(), body, 1)
                    message = {**message, "body": body}
                    stream["endpoint_named"] = True
            await send(message)

        return minted


def _own_path(scope) -> str:
    """The request's path without the proxy's prefix (mcp_serve.py's ProxyPaths put it in root_path)."""
    return scope["path"][len(scope.get("root_path", "")) :]


async def session_not_found(send, where: str) -> None:
    """404, as the SDK answers for a session it does not hold: the client starts a new one."""
    if where == "header":
        body = json.dumps(
            {"jsonrpc": "2.0", "id": "server-error", "error": {"code": -32600, "message": "Session not found"}}
        ).encode()
        content_type = b"application/json"
    else:
        body, content_type = b"Could not find session", b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Forwarder:
    """Passes a request on to the process that holds its session and streams the answer back,
    until the answer ends or the client goes (an SSE or GET stream stays open as long as the client
    does). Connections that end an exchange cleanly are kept for the next request to the same
    process: a new connection each time would cost a connect and an accept per request."""

    def __init__(self):
        self.idle: dict[str, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}

    async def _connection(self, target: str, connect) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """(reader, writer, whether it was kept from an earlier request)."""
        idle = self.idle.get(target, [])
        while idle:
            reader, writer = idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer, True
            writer.close()
        with anyio.fail_after(CONNECT_SECONDS):
            reader, writer = await connect()
        return reader, writer, False

    def _keep(self, target: str, reader, writer) -> None:
        idle = self.idle.setdefault(target, [])
        if len(idle) < IDLE_CONNECTIONS:
            idle.append((reader, writer))
        else:
            writer.close()

    async def __call__(self, scope, receive, send, where: str, target: str, connect) -> None:
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope.get("raw_path") or _own_path(scope).encode()
        if scope.get("query_string"):
            path += b"?" + scope["query_string"]
        headers = [(name, value) for name, value in scope["headers"] if name.lower() not in ONE_HOP]
        headers += [(b"content-length", str(len(body)).encode()), (FORWARDED_HEADER, b"1")]
        request = h11.Request(method=scope["method"], target=path, headers=headers)
        while True:
            try:
                reader, writer, kept = await self._connection(target, connect)
            except (OSError, TimeoutError):  # its process is gone (stopped, crashed, replaced)
                await session_not_found(send, where)
                return
            connection = h11.Connection(h11.CLIENT)
            try:
                writer.write(connection.send(request) + (connection.send(h11.Data(data=bytes(body))) or b""))
                writer.write(connection.send(h11.EndOfMessage()))
                await writer.drain()
                response = await _next_event(connection, reader)
                if not isinstance(response, h11.Response):
                    raise h11.RemoteProtocolError("closed before an answer")
                break
            except (OSError, h11.ProtocolError) as error:
                writer.close()
                if kept:  # a kept connection the other end had closed meanwhile: once more, on a new one
                    continue
                print(f"mcp_sessions: passing a request on to {target} failed: {error}", file=sys.stderr)
                await session_not_found(send, where)
                return
        try:
            kept_headers = [(name, value) for name, value in response.headers if name.lower() not in ONE_HOP]
            await send({"type": "http.response.start", "status": response.status_code, "headers": kept_headers})
            async with anyio.create_task_group() as group:

                async def client_gone() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    group.cancel_scope.cancel()

                group.start_soon(client_gone)
                while True:
                    event = await _next_event(connection, reader)
                    if isinstance(event, h11.Data):
                        await send({"type": "http.response.body", "body": bytes(event.data), "more_body": True})
                    elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                        break
                await send({"type": "http.response.body", "body": b""})
                group.cancel_scope.cancel()
        except (OSError, h11.ProtocolError) as error:  # the answer was begun: the client sees it cut
            print(f"mcp_sessions: an answer from {target} was cut: {error}", file=sys.stderr)
        finally:
            if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
                self._keep(target, reader, writer)
            else:
                writer.close()


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader):
    """The next event of the answer (a 1xx is skipped), reading from the connection as needed."""
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif not isinstance(event, h11.InformationalResponse):
            return event
