"""A plain HTTP server that answers as told and records what it was sent: the other end of a
redirect, a host that must never see a credential."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def recording_server(
    host: str, answer: Callable[[str], tuple[int, dict[str, str]]], body: bytes = b""
) -> Iterator[tuple[int, list[tuple[str, str, str | None]]]]:
    """A server on host:(a free port) that answers every request with answer(path) -> (status, headers)
    and body; yields (port, [(method, path, its Authorization header), ...])."""
    seen: list[tuple[str, str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_any(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.command, self.path, self.headers.get("Authorization")))
            status, headers = answer(self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_any

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
