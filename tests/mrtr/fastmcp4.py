"""A fastmcp 4 server, unnamed (fastmcp names it at random, per process), whose tool asks the
client who is calling by returning an InputRequiredResult with state of its own, and says which
process answered."""

import os

import mcp_types
from fastmcp import Context, FastMCP

mcp = FastMCP()

NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@mcp.tool()
async def greet(ctx: Context) -> str | mcp_types.InputRequiredResult:
    """Greet whoever answers the question."""
    if not ctx.input_responses:
        question = mcp_types.ElicitRequestFormParams(message="Who is asking?", requested_schema=NAME_SCHEMA)
        return mcp_types.InputRequiredResult(
            input_requests={"name": mcp_types.ElicitRequest(method="elicitation/create", params=question)},
            request_state="asked for a name",
            result_type="input_required",
        )
    if ctx.request_state != "asked for a name":
        raise ValueError(f"unexpected state {ctx.request_state!r}")
    return f"Hello, {ctx.input_responses['name'].content['name']}"


@mcp.tool()
def process_id() -> str:
    """The id of the process that answers."""
    return str(os.getpid())
