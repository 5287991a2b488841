"""A low-level mcp 2.x Server whose tool asks the client who is calling (an InputRequiredResult with
state of its own), its state sealed by the SDK's RequestStateBoundary under the policy the SDK's
documentation shows for it (RequestStateSecurity.ephemeral()); and a tool that says which process answered."""

import os

import mcp.types as types
import mcp_types
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import RequestStateBoundary, RequestStateSecurity

NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
TOOLS = [
    types.Tool(name="greet", description="Greet whoever answers.", input_schema={"type": "object", "properties": {}}),
    types.Tool(name="process_id", description="This process.", input_schema={"type": "object", "properties": {}}),
]


async def list_tools(ctx: ServerRequestContext, params) -> types.ListToolsResult:
    return types.ListToolsResult(tools=TOOLS)


def text(value: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=value)])


async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams):
    if params.name == "process_id":
        return text(str(os.getpid()))
    answers = getattr(params, "input_responses", None)
    if not answers:
        question = mcp_types.ElicitRequestFormParams(message="Who is asking?", requested_schema=NAME_SCHEMA)
        return mcp_types.InputRequiredResult(
            input_requests={"name": mcp_types.ElicitRequest(method="elicitation/create", params=question)},
            request_state="asked for a name",
            result_type="input_required",
        )
    if params.request_state != "asked for a name":
        raise ValueError(f"unexpected state {params.request_state!r}")
    answer = answers["name"]
    content = answer.content if hasattr(answer, "content") else answer["content"]
    return text(f"Hello, {content['name']}")


server = Server("greeter", on_list_tools=list_tools, on_call_tool=call_tool)
server.middleware.append(RequestStateBoundary(RequestStateSecurity.ephemeral(), default_audience=server.name))
