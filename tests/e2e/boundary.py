"""Requests that must not get past the rendered nginx and the server's credential check behind it:
sent byte for byte, over real TLS.

A client library would tidy most of them (dot segments, duplicate headers, header case,
HTTP/1.0, absolute-form targets), so each variant is the raw request. Each is sent from a
loopback address of its own (127.0.0.0/8 is all loopback on Linux), so the server's limit on
refused requests, which counts per client address (as nginx passes it on), never mixes them up.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
from dataclasses import dataclass, field

BODY = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
ACCEPT = "application/json, text/event-stream"


@dataclass(frozen=True)
class Variant:
    name: str
    method: str = "POST"
    target: str = "{endpoint}"  # {endpoint}: /PREFIX/mcp or /PREFIX/sse; {prefix}: PREFIX
    headers: tuple[tuple[str, str], ...] = ()  # besides Host, Accept, Content-Type/Length
    version: str = "HTTP/1.1"
    host: str | None = "localhost"
    body: bytes = BODY
    plain_http: bool = False  # to nginx's HTTP port, without TLS


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)

    def header(self, name: str) -> str:
        return ", ".join(self.headers.get(name.lower(), []))


def variants(token: str) -> list[Variant]:
    """About 60 ways to ask without a valid credential; none may be answered as a call. (The scheme's
    case is not among them: RFC 7235 makes `bearer` and `BEARER` the same scheme, and the server agrees.)"""
    bearer = f"Bearer {token}"
    lookalike = token[:-1] + "\u0430"  # Cyrillic a in place of the last character
    changed = token[:-1] + ("0" if token[-1] != "0" else "1")

    def auth(value: str) -> tuple[tuple[str, str], ...]:
        return (("Authorization", value),)

    tokens = [
        Variant("no-authorization"),
        Variant("wrong-token", headers=auth("Bearer wrong-token")),
        Variant("token-without-scheme", headers=auth(token)),
        Variant("token-upper-cased", headers=auth(f"Bearer {token.upper()}")),
        Variant("two-spaces-inside", headers=auth(f"Bearer  {token}")),
        Variant("tab-inside", headers=auth(f"Bearer\t{token}")),
        Variant("one-character-more", headers=auth(bearer + "x")),
        Variant("one-character-less", headers=auth(bearer[:-1])),
        Variant("one-character-changed", headers=auth(f"Bearer {changed}")),
        Variant("unicode-look-alike", headers=auth(f"Bearer {lookalike}")),
        Variant("fullwidth-scheme", headers=auth(f"\uff22earer {token}")),
        Variant("token-twice-in-one-header", headers=auth(f"{bearer}, {bearer}")),
        Variant("duplicate-header-valid-first", headers=auth(bearer) + auth("Bearer wrong")),
        Variant("duplicate-header-valid-last", headers=auth("Bearer wrong") + auth(bearer)),
        Variant("basic-with-token", headers=auth("Basic " + base64.b64encode(f"x:{token}".encode()).decode())),
        Variant("scheme-only", headers=auth("Bearer")),
        Variant("scheme-and-space", headers=auth("Bearer ")),
        Variant("nul-after-token", headers=auth(bearer + "\x00")),
        Variant("query-access-token", target="{endpoint}?access_token=" + token),
        Variant("query-authorization", target="{endpoint}?authorization=Bearer%20" + token),
        Variant("cookie", headers=(("Cookie", f"token={token}; access_token={token}"),)),
        Variant("proxy-authorization", headers=(("Proxy-Authorization", bearer),)),
        Variant("x-authorization", headers=(("X-Authorization", bearer), ("X-Forwarded-Authorization", bearer))),
    ]
    methods = [
        Variant(f"method-{method.lower()}", method=method, body=b"")
        for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE")
    ]
    paths = [
        Variant("dot-segments", target="/{prefix}/../{prefix}/mcp"),
        Variant("encoded-dot-segments", target="/%2e%2e/{prefix}/mcp"),
        Variant("encoded-dots-inside-prefix", target="/{prefix}/%2e%2e/mcp"),
        Variant("double-slash", target="/{endpoint}"),
        Variant("semicolon", target="/{prefix};/mcp"),
        Variant("prefix-upper-cased", target="/{prefix_upper}/mcp"),
        Variant("encoded-prefix", target="/%{prefix_first_hex}{prefix_rest}/mcp"),
        Variant("encoded-slash", target="/{prefix}%2Fmcp"),
        Variant("encoded-nul", target="{endpoint}%00"),
        Variant("health-under-prefix", method="GET", target="/{prefix}/healthz", body=b""),
        Variant("health-at-root", method="GET", target="/healthz", body=b""),
        Variant("root", method="GET", target="/", body=b""),
        Variant("well-known-then-dots", target="/.well-known/oauth-protected-resource/../../{prefix}/mcp"),
        Variant("absolute-form-target", target="https://localhost{endpoint}"),
        Variant("asterisk-target", method="OPTIONS", target="*", body=b""),
    ]
    spoofing = [
        Variant("host-spoofed", host="evil.example"),
        Variant("host-missing-http-1.1", host=None),
        Variant("origin-spoofed", headers=(("Origin", "https://evil.example"),)),
        Variant("forwarded-for-loopback", headers=(("X-Forwarded-For", "127.0.0.1"), ("X-Real-IP", "127.0.0.1"))),
        Variant("forwarded-prefix", headers=(("X-Forwarded-Prefix", "/elsewhere"),)),
        Variant("http-1.0", version="HTTP/1.0"),
        Variant("http-1.0-without-host", version="HTTP/1.0", host=None),
        Variant("plain-http-with-token", headers=auth(bearer), plain_http=True),
        Variant("plain-http-without-token", plain_http=True),
    ]
    sizes = [
        Variant("body-of-2-MB", body=b"x" * (2 << 20)),
        Variant("header-of-64-KB", headers=(("X-Padding", "a" * (64 << 10)),)),
        Variant("authorization-of-16-KB", headers=auth(bearer + "a" * (16 << 10))),
        Variant("200-headers", headers=tuple((f"X-H{i}", "v") for i in range(200))),
        Variant("chunked-body", headers=(("Transfer-Encoding", "chunked"),), body=b"chunked"),
    ]
    return tokens + methods + paths + spoofing + sizes


def request_bytes(variant: Variant, *, endpoint: str, prefix: str) -> bytes:
    values = {
        "endpoint": f"/{prefix}{endpoint}",
        "prefix": prefix,
        "prefix_upper": prefix.upper(),
        "prefix_first_hex": f"{ord(prefix[0]):02x}",
        "prefix_rest": prefix[1:],
    }
    lines = [f"{variant.method} {variant.target.format(**values)} {variant.version}"]
    if variant.host is not None:
        lines.append(f"Host: {variant.host}")
    lines += ["Accept: " + ACCEPT, "MCP-Protocol-Version: 2025-06-18", "Connection: close"]
    body = variant.body
    if dict(variant.headers).get("Transfer-Encoding") == "chunked":
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in variant.headers]
    return "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + body


def send(
    port: int, data: bytes, *, source: str, context: ssl.SSLContext | None, timeout: float = 15
) -> Response | None:
    """Send data from the source address; the response's status and headers (None: connection closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as raw:
        stream = context.wrap_socket(raw, server_hostname="localhost") if context else raw
        try:
            try:
                stream.sendall(data)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # nginx may answer and close before a large request is sent: read what it said
            received = b""
            while b"\r\n\r\n" not in received:
                try:
                    chunk = stream.recv(65536)
                except (ConnectionResetError, ssl.SSLError):
                    break
                if not chunk:
                    break
                received += chunk
        finally:
            stream.close()
    if not received.startswith(b"HTTP/"):
        return None
    head = received.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    response = Response(int(head[0].split()[1]))
    for line in head[1:]:
        name, _, value = line.partition(":")
        response.headers.setdefault(name.strip().lower(), []).append(value.strip())
    return response
