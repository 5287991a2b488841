"""A server whose tool asks the client in the middle of the call (ctx.elicit(), a server-to-client
request on the session) and reports progress, and says which process answered. Written for FastMCP
(mcp 1.x); tests/test_sessions.py swaps the import and the class for the other generations, whose
Context offers the same calls."""

import os

from mcp.server.fastmcp import Context, FastMCP
from pydantic import BaseModel

mcp = FastMCP("weather")


class City(BaseModel):
    city: str


@mcp.tool()
async def forecast_for_asked_city(ctx: Context) -> str:
    """Ask which city, then give its forecast."""
    await ctx.report_progress(1, 2, "asking")
    answer = await ctx.elicit("Which city?", City)
    await ctx.report_progress(2, 2, "answered")
    city = answer.data.city if answer.action == "accept" else "nowhere"
    return f"Sunny in {city} (process {os.getpid()})"
