"""An MCPServer whose tool asks the client who is calling (2026-07-28: an InputRequiredResult, the
answer and the sealed state sent back with the retry), and says which process answered."""

import os
from typing import Annotated

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.resolve import Elicit, Resolve
from pydantic import BaseModel

mcp = MCPServer("greeter")


class Name(BaseModel):
    name: str


def ask_name() -> Elicit[Name]:
    return Elicit("Who is asking?", Name)


@mcp.tool()
def greet(who: Annotated[Name, Resolve(ask_name)]) -> str:
    """Greet whoever answers the question."""
    return f"Hello, {who.name}"


@mcp.tool()
def process_id() -> str:
    """The id of the process that answers."""
    return str(os.getpid())


@mcp.tool()
async def wait(seconds: float) -> str:
    """Answer after this many seconds."""
    await anyio.sleep(seconds)
    return f"waited {seconds} s"
