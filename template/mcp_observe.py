"""What the MCP server does, told to its operators: metrics, traces and an audit line per tool call.

This file belongs to mcp-docker-template: `copier update` keeps it current. mcp_serve.py puts it
around the server's HTTP app; it reads each JSON-RPC request a client POSTs and the answer the
server sends back (in the POST's answer for streamable-http, on the session's stream for SSE), so
it works the same for every SDK generation, and never changes what the server answers.

Settings come from the environment:

  MCP_METRICS_PORT     serve Prometheus metrics at /metrics on this port (the image sets 9464;
                       unset or empty: no metrics). Only /metrics is served there, and nothing of
                       the server: publish it to your Prometheus, never to the public front.
  MCP_AUDIT            calls (default): one JSON line per tool call on stderr; arguments: the
                       same with the call's arguments (they may hold personal data); off
  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
                       where spans go, over OTLP/HTTP (protobuf); neither set: no tracing at all
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, ...
                       read by OpenTelemetry's SDK as everywhere else
  MCP_OBSERVABILITY_PACKAGES
                       where opentelemetry-sdk, its OTLP exporter and prometheus-client are found
                       when the server's own environment lacks them (the image installs them in
                       /opt/observability, apart from the server's dependencies)

Metrics: `mcp_server_operation_duration_seconds`, the OpenTelemetry MCP conventions'
`mcp.server.operation.duration` histogram (seconds, their buckets) by `mcp_method_name`,
`gen_ai_tool_name` and `error_type` (a JSON-RPC error code, `tool_error`, or an HTTP status).

Traces: mcp 2.x and fastmcp 3 and 4 make their own spans (MCP conventions); this file gives them
an OTLP exporter, and the trace context of a request's `traceparent` header where its `_meta` has
none. For mcp 1.x and fastmcp 2, which make none, it makes a span per request with the same names
and attributes, its parent taken from `_meta` or the header.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

from starlette.datastructures import Headers

# mcp.server.operation.duration's buckets, in seconds, as the conventions give them.
DURATION_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
# A metric's labels must stay few: past this many tool names, a new one is counted as _OTHER
# (a client calling made-up names must not make a time series each).
MAX_TOOL_LABELS = 200
OTHER = "_OTHER"
# Requests sent over SSE whose answer has not come yet, at most (the oldest is dropped past it).
MAX_PENDING = 10_000
# Answers larger than this are passed on without being read (their outcome is not known).
MAX_READ_BYTES = 16 * 1024 * 1024
METRICS_PATH = "/metrics"
DEFAULT_PACKAGES = "/opt/observability"
AUDIT_MODES = ("calls", "arguments", "off")


def log(message: str) -> None:
    print(f"mcp_observe: {message}", file=sys.stderr, flush=True)


def import_observability(module: str):
    """Import one of the observability packages: from the server's environment, else from the
    folder the image installs them in (appended: the server's own versions of shared packages win)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        folder = os.environ.get("MCP_OBSERVABILITY_PACKAGES", DEFAULT_PACKAGES)
        if folder not in sys.path and Path(folder).is_dir():
            sys.path.append(folder)
            importlib.invalidate_caches()
        return importlib.import_module(module)


# --- settings ---------------------------------------------------------------------------


def metrics_port(serve_port: int) -> int | None:
    """MCP_METRICS_PORT, checked; None when metrics are off."""
    text = os.environ.get("MCP_METRICS_PORT", "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise SystemExit(f"MCP_METRICS_PORT {text!r} is not a port: expected a whole number from 1 to 65535")
    if int(text) == serve_port:
        raise SystemExit(f"MCP_METRICS_PORT {text} is MCP_SERVE_PORT too: metrics need a port of their own")
    return int(text)


def audit_mode() -> str:
    mode = os.environ.get("MCP_AUDIT", "").strip() or "calls"
    if mode not in AUDIT_MODES:
        raise SystemExit(f"Unknown MCP_AUDIT {mode!r}: expected one of {', '.join(AUDIT_MODES)}")
    return mode


def tracing_wanted() -> bool:
    """Whether the OTEL_* settings ask for traces: an OTLP endpoint, and no switch that turns them off."""
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none"


@contextlib.contextmanager
def shared_metrics(workers: int):
    """While the workers run: a folder where each keeps its counts, for any of them to add up
    (removed afterwards, unless PROMETHEUS_MULTIPROC_DIR named one already)."""
    if workers == 1 or not os.environ.get("MCP_METRICS_PORT", "").strip() or "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="mcp-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        yield


# --- metrics ----------------------------------------------------------------------------


class Metrics:
    """The operation-duration histogram, counted in this process (and, with several workers, in
    files all of them add up when Prometheus asks)."""

    def __init__(self):
        try:
            self.client = import_observability("prometheus_client")
        except ImportError:
            raise SystemExit(
                "MCP_METRICS_PORT is set, but prometheus-client is not installed: add prometheus-client to"
                " the dependencies, or unset MCP_METRICS_PORT"
            ) from None
        # Several workers: each counts in PROMETHEUS_MULTIPROC_DIR, and a scrape adds them all up.
        self.multiprocess = import_observability("prometheus_client.multiprocess")
        self.registry = self.client.CollectorRegistry()
        self.histogram = self.client.Histogram(
            "mcp_server_operation_duration_seconds",
            "MCP request or notification duration, from when the server received it until it sent the answer.",
            ("mcp_method_name", "gen_ai_tool_name", "error_type"),
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.tool_labels: set[str] = set()

    def record(self, method: str, tool: str | None, error_type: str | None, seconds: float) -> None:
        label = tool or ""
        if label and label not in self.tool_labels:
            if len(self.tool_labels) < MAX_TOOL_LABELS:
                self.tool_labels.add(label)
            else:
                label = OTHER
        self.histogram.labels(method, label, error_type or "").observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if folder:
            registry = self.client.CollectorRegistry()
            self.multiprocess.MultiProcessCollector(registry, path=folder)
        else:
            registry = self.registry
        return self.client.generate_latest(registry), self.client.CONTENT_TYPE_LATEST


class MetricsPort:
    """ASGI middleware: requests to the metrics port get /metrics and nothing else; the server's
    own port never serves metrics."""

    def __init__(self, app, metrics: Metrics, port: int):
        self.app, self.metrics, self.port = app, metrics, port

    async def __call__(self, scope, receive, send):
        server = scope.get("server") or (None, None)
        if scope["type"] != "http" or server[1] != self.port:
            await self.app(scope, receive, send)
            return
        if scope["path"] != METRICS_PATH or scope["method"] not in ("GET", "HEAD"):
            await _plain(send, 404, b"only GET /metrics is served on this port\n")
            return
        body, content_type = self.metrics.exposition()
        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


async def _plain(send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- traces -----------------------------------------------------------------------------


def sdk_makes_spans() -> bool:
    """Whether the installed SDK makes spans of its own (mcp 2.x; fastmcp 3 and 4)."""
    for module in ("mcp.server._otel", "fastmcp.server.telemetry"):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
            return True
    return False


class Tracing:
    """OpenTelemetry's SDK with an OTLP/HTTP exporter, as the OTEL_* settings say, installed as the
    process's tracer provider (the SDK's spans go there too)."""

    def __init__(self, service_name: str):
        protocol = (
            os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
        ).strip()
        if protocol not in ("", "http/protobuf"):
            raise SystemExit(
                f"OTEL_EXPORTER_OTLP_PROTOCOL {protocol!r}: this server exports spans over OTLP/HTTP (http/protobuf)"
                " only; point OTEL_EXPORTER_OTLP_ENDPOINT at your collector's HTTP port (4318), not its gRPC port"
            )
        try:
            exporter_module = import_observability("opentelemetry.exporter.otlp.proto.http.trace_exporter")
            sdk_trace = import_observability("opentelemetry.sdk.trace")
            export = import_observability("opentelemetry.sdk.trace.export")
            resources = import_observability("opentelemetry.sdk.resources")
            self.trace = import_observability("opentelemetry.trace")
            self.propagate = import_observability("opentelemetry.propagate")
        except ImportError as error:
            raise SystemExit(
                f"OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry's SDK cannot be imported ({error}): add"
                " opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http to the dependencies, or unset it"
            ) from None
        if not os.environ.get("OTEL_SERVICE_NAME", "").strip():  # unset, or left empty in .env
            os.environ["OTEL_SERVICE_NAME"] = service_name
        self.provider = sdk_trace.TracerProvider(resource=resources.Resource.create())
        self.provider.add_span_processor(export.BatchSpanProcessor(exporter_module.OTLPSpanExporter()))
        self.trace.set_tracer_provider(self.provider)
        self.tracer = self.provider.get_tracer("mcp-docker-template")

    def context_of(self, meta: dict | None, headers: dict[str, str]):
        """The parent of a request's span: its _meta's trace context, else its HTTP headers'."""
        carrier = meta if isinstance(meta, dict) and "traceparent" in meta else headers
        return self.propagate.extract(carrier)

    def start(self, name: str, attributes: dict, context):
        return self.tracer.start_span(name, context=context, kind=self.trace.SpanKind.SERVER, attributes=attributes)

    def end(self, span, error_type: str | None) -> None:
        if error_type:
            span.set_attribute("error.type", error_type)
            span.set_status(self.trace.Status(self.trace.StatusCode.ERROR))
        span.end()

    def close(self) -> None:
        """Send the spans still waiting (a worker ends with os._exit, which runs no atexit)."""
        self.provider.shutdown()


# --- one request, from its POST to its answer ---------------------------------------------


class Operation:
    """One JSON-RPC request or notification the server received."""

    __slots__ = (
        "address",
        "arguments",
        "client",
        "key",
        "meta",
        "method",
        "name",
        "request_id",
        "session",
        "span",
        "started",
        "tool",
    )

    def __init__(self, message: dict, client: dict, address: str, session: str | None):
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        self.method = str(message.get("method"))
        self.request_id = message.get("id")
        name = params.get("name", params.get("uri"))
        self.name = name if isinstance(name, str) else None  # the tool's, the prompt's, the resource's
        self.tool = self.name if self.method == "tools/call" else None
        self.arguments = params.get("arguments") if self.tool else None
        self.meta = params.get("_meta")
        self.client, self.address, self.session = client, address, session
        self.started = time.perf_counter()
        self.span = None
        self.key = json.dumps(self.request_id)  # how its answer's id is matched


def outcome_of(answer: dict) -> str | None:
    """The error type of a JSON-RPC answer (None: a success): the error code, or tool_error for a
    tool's result marked isError, as the conventions name them."""
    error = answer.get("error")
    if isinstance(error, dict):
        return str(error.get("code", OTHER))
    result = answer.get("result")
    if isinstance(result, dict) and result.get("isError") is True:
        return "tool_error"
    return None


def client_of(scope) -> dict:
    """Who made the request: what the credential check (mcp_auth.py) found, else the SDK's own
    auth's user, else nobody named."""
    found = scope.get("mcp.client")
    if isinstance(found, dict):
        return found
    user = scope.get("user")
    token = getattr(user, "access_token", None)
    if token is not None:
        return {"client_id": getattr(token, "client_id", None), "subject": getattr(token, "subject", None)}
    return {}


class EventStream:
    """The JSON-RPC messages in a text/event-stream, as its chunks come."""

    def __init__(self):
        self.pending = ""

    def feed(self, chunk: bytes):
        self.pending = (self.pending + chunk.decode("utf-8", errors="replace")).replace("\r\n", "\n")
        *events, self.pending = self.pending.split("\n\n")
        for event in events:
            kind, data = "message", []
            for line in event.split("\n"):
                if line.startswith("data:"):
                    data.append(line[5:].removeprefix(" "))
                elif line.startswith("event:"):
                    kind = line[6:].strip()
            if data:
                yield kind, "\n".join(data)


def answers_in(text: str) -> list[dict]:
    """The JSON-RPC answers in a message or a batch."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return []
    items = parsed if isinstance(parsed, list) else [parsed]
    return [item for item in items if isinstance(item, dict) and "id" in item and ("result" in item or "error" in item)]


class Observer:
    """ASGI middleware around the server's HTTP app: reads the requests and their answers, and
    counts, traces and audits each."""

    def __init__(self, app, *, transport: str, endpoint: str, metrics, tracing, audit: str, wiring_spans: bool):
        self.app = app
        # SSE: a session's stream at the endpoint; its requests POSTed to the message path the
        # stream announced, with the session's id in the query. streamable-http: POSTs to the endpoint.
        self.over_sse, self.endpoint = transport == "sse", endpoint
        self.metrics, self.tracing, self.audit = metrics, tracing, audit
        self.wiring_spans = wiring_spans and tracing is not None
        self.waiting: dict[tuple[str, str], Operation] = {}  # SSE: (session, request id): the request

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"][len(scope.get("root_path", "")) :] or "/"
        if scope["method"] == "POST":
            if not self.over_sse and path == self.endpoint:
                await self.posted(scope, receive, send, None)
                return
            if self.over_sse and b"session_id=" in scope.get("query_string", b""):
                session = urllib.parse.parse_qs(scope["query_string"].decode("latin-1")).get("session_id", [""])[0]
                await self.posted(scope, receive, send, session)
                return
        elif self.over_sse and scope["method"] == "GET" and path == self.endpoint:
            await self.app(scope, receive, self.watching_stream(send))
            return
        await self.app(scope, receive, send)

    async def posted(self, scope, receive, send, sse_session: str | None) -> None:
        """A POST of JSON-RPC messages; sse_session: the SSE session it belongs to (None: streamable-http)."""
        body, messages = await read_body(receive)
        if messages is None:
            await self.app(scope, replay(body, receive), send)
            return
        session = sse_session if sse_session is not None else Headers(scope=scope).get("mcp-session-id")
        client = client_of(scope)
        address = (scope.get("client") or ("-",))[0]
        operations = [Operation(message, client, address, session) for message in messages if "method" in message]
        if self.tracing is not None:
            body = self.traced(scope, operations, messages, body)
        replayed = replay(body, receive)
        send = named_for_the_proxy(operations, send)
        if sse_session is not None:
            await self.app(scope, replayed, self.watching_post(operations, send))
        else:
            await self.app(scope, replayed, self.watching_answer(operations, send))

    def traced(self, scope, operations: list[Operation], messages: list[dict], body: bytes) -> bytes:
        """Start the wiring's spans; give the SDK's spans the header's trace context where _meta has none."""
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        if self.wiring_spans:
            for operation in operations:
                operation.span = self.tracing.start(
                    f"{operation.method} {operation.tool}" if operation.tool else operation.method,
                    span_attributes(operation, scope),
                    self.tracing.context_of(operation.meta, headers),
                )
            return body
        if "traceparent" not in headers:
            return body
        changed = False
        for message in messages:
            if "method" not in message:
                continue
            params = message.setdefault("params", {})
            if not isinstance(params, dict):
                continue
            meta = params.setdefault("_meta", {})
            if isinstance(meta, dict) and "traceparent" not in meta:
                meta.update(headers)
                changed = True
        if not changed:
            return body
        new = json.dumps(messages if len(messages) > 1 or body.lstrip()[:1] == b"[" else messages[0]).encode()
        scope["headers"] = [(n, v) for n, v in scope["headers"] if n != b"content-length"]
        scope["headers"].append((b"content-length", str(len(new)).encode()))
        return new

    def finish(self, operation: Operation, error_type: str | None) -> None:
        """Count, trace and audit a request once its answer came; error_type None: a success."""
        seconds = time.perf_counter() - operation.started
        if self.metrics is not None:
            self.metrics.record(operation.method, operation.tool, error_type, seconds)
        trace_id = None
        if operation.span is not None:
            trace_id = format(operation.span.get_span_context().trace_id, "032x")
            self.tracing.end(operation.span, error_type)
        if operation.tool is not None and self.audit != "off":
            self.write_audit(operation, error_type, seconds, trace_id)

    def write_audit(self, operation: Operation, error_type: str | None, seconds: float, trace_id) -> None:
        line = {
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "event": "mcp.tool_call",
            "tool": operation.tool,
            "outcome": "ok" if error_type is None else ("tool_error" if error_type == "tool_error" else "error"),
            "error_type": error_type,
            "duration_ms": round(seconds * 1000, 3),
            "client": operation.client.get("client") or operation.client.get("client_id"),
            "subject": operation.client.get("subject"),
            "address": operation.address,
            "request_id": operation.request_id,
            "session": operation.session,
        }
        if trace_id:
            line["trace_id"] = trace_id
        if self.audit == "arguments":
            line["arguments"] = operation.arguments
        print(json.dumps(line, default=str, separators=(",", ":")), file=sys.stderr, flush=True)

    def watching_answer(self, operations: list[Operation], send):
        """streamable-http: the answers come in the POST's own answer, JSON or an event stream."""
        waiting = {operation.key: operation for operation in operations if operation.request_id is not None}
        notifications = [operation for operation in operations if operation.request_id is None]
        state = {"status": 200, "kind": None, "body": b"", "read": 0}
        stream = EventStream()

        def answered(answer: dict) -> None:
            operation = waiting.pop(json.dumps(answer.get("id")), None)
            if operation is not None:
                self.finish(operation, outcome_of(answer))

        async def watched(message):
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                content_type = Headers(raw=message.get("headers", [])).get("content-type", "").lower()
                state["kind"] = "events" if content_type.startswith("text/event-stream") else "json"
                for operation in notifications:
                    self.finish(operation, str(state["status"]) if state["status"] >= 400 else None)
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                state["read"] += len(chunk)
                if state["read"] <= MAX_READ_BYTES:
                    if state["kind"] == "events":
                        for _, data in stream.feed(chunk):
                            for answer in answers_in(data):
                                answered(answer)
                    else:
                        state["body"] += chunk
                if not message.get("more_body", False):
                    if state["kind"] == "json" and state["read"] <= MAX_READ_BYTES:
                        for answer in answers_in(state["body"].decode("utf-8", errors="replace")):
                            answered(answer)
                    self.unanswered(waiting, state["status"])
            await send(message)

        return watched

    def unanswered(self, waiting: dict, status: int) -> None:
        """Requests whose answer never came: an HTTP error (a 404 for a session gone, a 400), or a
        stream that ended first."""
        for operation in list(waiting.values()):
            self.finish(operation, str(status) if status >= 400 else OTHER)
        waiting.clear()

    def watching_post(self, operations: list[Operation], send):
        """SSE: the POST is only accepted (202); the answers come on the session's stream."""

        async def watched(message):
            if message["type"] == "http.response.start":
                status = message["status"]
                for operation in operations:
                    if operation.request_id is None or status >= 400:
                        self.finish(operation, str(status) if status >= 400 else None)
                    else:
                        if len(self.waiting) >= MAX_PENDING:
                            self.waiting.pop(next(iter(self.waiting)))
                        self.waiting[(operation.session or "", operation.key)] = operation
            await send(message)

        return watched

    def watching_stream(self, send):
        """SSE: a session's stream; its first event names the session, the others carry answers."""
        stream = EventStream()
        session = {"id": None}

        async def watched(message):
            if message["type"] == "http.response.body":
                for kind, data in stream.feed(message.get("body", b"")):
                    if kind == "endpoint":
                        query = urllib.parse.urlsplit(data).query
                        session["id"] = urllib.parse.parse_qs(query).get("session_id", [None])[0]
                    elif kind == "message" and session["id"] is not None:
                        for answer in answers_in(data):
                            operation = self.waiting.pop((session["id"], json.dumps(answer.get("id"))), None)
                            if operation is not None:
                                self.finish(operation, outcome_of(answer))
            await send(message)

        return watched


# What a header may carry of a name a client chose: printable ASCII, not too long.
HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,200}")


def named_for_the_proxy(operations: list[Operation], send):
    """The answer to a POST names its method and tool in X-MCP-Method and X-MCP-Name, for the proxy
    in front to log (nginx logs the Mcp-Method and Mcp-Name headers a client sends, else these;
    clients before 2026-07-28 send none)."""
    if not operations:
        return send
    method = operations[0].method if len(operations) == 1 else "batch"
    name = operations[0].name if len(operations) == 1 else None
    added = [(b"x-mcp-method", method.encode() if HEADER_SAFE.fullmatch(method) else b"-")]
    if name:
        added.append((b"x-mcp-name", name.encode() if HEADER_SAFE.fullmatch(name) else b"-"))

    async def named(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *added]}
        await send(message)

    return named


def span_attributes(operation: Operation, scope) -> dict:
    """The MCP conventions' attributes of a server span."""
    attributes = {"mcp.method.name": operation.method, "network.transport": "tcp"}
    if operation.request_id is not None:
        attributes["jsonrpc.request.id"] = str(operation.request_id)
    if operation.tool:
        attributes["gen_ai.tool.name"] = operation.tool
        attributes["gen_ai.operation.name"] = "execute_tool"
    if operation.session:
        attributes["mcp.session.id"] = operation.session
    version = Headers(scope=scope).get("mcp-protocol-version")
    if version:
        attributes["mcp.protocol.version"] = version
    if operation.address != "-":
        attributes["client.address"] = operation.address
    return attributes


async def read_body(receive) -> tuple[bytes, list[dict] | None]:
    """The request's body, and the JSON-RPC messages in it (None: not JSON-RPC)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    try:
        parsed = json.loads(body)
    except ValueError:
        return body, None
    items = parsed if isinstance(parsed, list) else [parsed]
    messages = [item for item in items if isinstance(item, dict)]
    return body, messages or None


def replay(body: bytes, receive):
    """A receive that gives the body read first, then what the connection says next."""
    sent = False

    async def replayed():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


# --- all of it, from the environment -------------------------------------------------------


class Observability:
    """What the environment asks for, for one server process."""

    def __init__(self, service_name: str, serve_port: int):
        self.audit = audit_mode()
        self.metrics_port = metrics_port(serve_port)
        self.metrics = Metrics() if self.metrics_port else None
        self.tracing = Tracing(service_name) if tracing_wanted() else None
        self.wiring_spans = self.tracing is not None and not sdk_makes_spans()

    @property
    def summary(self) -> str:
        parts = [f"metrics on :{self.metrics_port}{METRICS_PATH}" if self.metrics_port else "no metrics"]
        if self.tracing is not None:
            parts.append("traces over OTLP" + (" (this wiring's spans)" if self.wiring_spans else " (the SDK's spans)"))
        parts.append("audit: " + self.audit)
        return ", ".join(parts)

    def wrap(self, app, transport: str, endpoint: str):
        if self.metrics is None and self.tracing is None and self.audit == "off":
            return app
        return Observer(
            app,
            transport=transport,
            endpoint=endpoint,
            metrics=self.metrics,
            tracing=self.tracing,
            audit=self.audit,
            wiring_spans=self.wiring_spans,
        )

    def front(self, app):
        """The metrics port's answers, in front of everything else."""
        return MetricsPort(app, self.metrics, self.metrics_port) if self.metrics is not None else app

    def close(self) -> None:
        """Send what is still waiting (once: the server's stop and its end both call it)."""
        if self.tracing is not None:
            tracing, self.tracing = self.tracing, None
            tracing.close()
