"""The floor of benchmarks/peers.py: a server's own stateless streamable-http ASGI app, nothing around it.

Served by plain uvicorn with its default settings, in the server's repository and its SDK's
environment (so this file imports nothing from the tests):

    BARE_APP_SDK=mcp2-mcpserver BARE_APP_SERVER=weather_mcp.server:create_server \\
        python -m uvicorn --app-dir BENCHMARKS --factory bare_app:create_app --port PORT

BARE_APP_SDK and BARE_APP_SERVER are the project's `sdk` and `server` answers. Each builder is what
the SDK's own documentation shows for a stateless server; the endpoint is ENDPOINT below.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

# The low-level mcp 1.x server is mounted (as the SDK's example does), so its endpoint has the slash.
ENDPOINT = {"mcp1-lowlevel": "/mcp/"}
DEFAULT_ENDPOINT = "/mcp"


def import_server(spec: str):
    """The server object a `server` answer names (MODULE:NAME or FILE.py:NAME; a factory is called)."""
    location, _, attribute = spec.partition(":")
    here = Path.cwd()
    if location.endswith(".py"):
        path = here / location
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    else:
        sys.path[:0] = [str(folder) for folder in (here, here / "src") if folder.is_dir()]
        module_name = location
    found = getattr(importlib.import_module(module_name), attribute)
    return found() if inspect.isfunction(found) else found


def mcp1_fastmcp(server):
    server.settings.stateless_http = True
    return server.streamable_http_app()


def mcp1_lowlevel(server):
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
    from starlette.applications import Starlette
    from starlette.routing import Mount

    manager = StreamableHTTPSessionManager(app=server, stateless=True)

    async def handle(scope, receive, send) -> None:
        await manager.handle_request(scope, receive, send)

    @asynccontextmanager
    async def lifespan(_app):
        async with manager.run():
            yield

    return Starlette(routes=[Mount("/mcp", app=handle)], lifespan=lifespan)


def mcp2(server):
    return server.streamable_http_app(stateless_http=True)


def fastmcp(server):
    return server.http_app(stateless_http=True)


BUILDERS = {
    "mcp1-fastmcp": mcp1_fastmcp,
    "mcp1-lowlevel": mcp1_lowlevel,
    "mcp2-mcpserver": mcp2,
    "mcp2-lowlevel": mcp2,
    "fastmcp": fastmcp,
}


def create_app():
    return BUILDERS[os.environ["BARE_APP_SDK"]](import_server(os.environ["BARE_APP_SERVER"]))
