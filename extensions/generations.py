"""The generations of Python MCP server APIs the template deploys, in one table.

A generation is a server API plus the package versions that provide it. The questionnaire's
`sdk` choices, the wiring rendered into mcp_serve.py, the version check in the image
(sdk_check.py), the code detection and the test matrix all read this table, so a generation
added here cannot be missed by any of them.

Plain data and functions, no Jinja and no Copier, so the tests import it directly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Generation:
    answer: str  # the `sdk` answer; never renamed (a Copier migration would have to carry old answers over)
    label: str  # what the questionnaire shows
    package: str  # the distribution whose version decides the API
    lowest: str  # the oldest version tested and supported
    below: str  # the first version not supported (the next major)
    server_class: str  # "module:Class" of the server object
    default_object: str  # the name examples and docs use for the server object
    new_project_requirement: str  # the requirement line of a new project
    run_methods: tuple[str, ...]  # methods that run the server; a function that calls one is served over HTTP
    transports: tuple[str, ...] = ("streamable-http", "sse")
    # Seals multi-round-trip state (2026-07-28 requestState) with a key of its own per process
    # (RequestStateSecurity.ephemeral()), unless the server's code passes a policy.
    seals_request_state: bool = False

    @property
    def supported(self) -> str:
        """The supported versions as a requirement specifier, e.g. mcp>=1.23,<2."""
        return f"{self.package}>={self.lowest},<{self.below}"

    @property
    def major(self) -> str:
        return self.answer.split("-")[0]


GENERATIONS: dict[str, Generation] = {
    g.answer: g
    for g in (
        Generation(
            answer="mcp2-mcpserver",
            label="MCPServer (mcp.server.mcpserver.MCPServer), mcp 2.x",
            package="mcp",
            lowest="2.0.0",
            below="3",
            server_class="mcp.server.mcpserver:MCPServer",
            default_object="mcp",
            new_project_requirement="mcp>=2.0,<3",
            run_methods=("run", "run_stdio_async", "run_sse_async", "run_streamable_http_async"),
            seals_request_state=True,
        ),
        Generation(
            answer="mcp2-lowlevel",
            label="low-level Server (mcp.server.Server, on_* handlers), mcp 2.x",
            package="mcp",
            lowest="2.0.0",
            below="3",
            server_class="mcp.server.lowlevel:Server",
            default_object="server",
            new_project_requirement="mcp>=2.0,<3",
            run_methods=("run",),
            seals_request_state=True,  # where the code adds the SDK's RequestStateBoundary
        ),
        Generation(
            answer="fastmcp",
            label="standalone fastmcp (fastmcp.FastMCP), 2.x and 3.x on mcp 1, 4.x on mcp 2",
            package="fastmcp",
            lowest="2.12.0",
            below="5",
            server_class="fastmcp:FastMCP",
            default_object="mcp",
            new_project_requirement="fastmcp>=4,<5",
            run_methods=("run", "run_async", "run_stdio_async", "run_http_async"),
            seals_request_state=True,  # 4.x; 2.x and 3.x (on mcp 1) have no such state
        ),
        Generation(
            answer="mcp1-fastmcp",
            label="FastMCP (mcp.server.fastmcp.FastMCP), mcp 1.x",
            package="mcp",
            # 1.23 is the oldest tested: its FastMCP switches the Host check on by itself,
            # which the wiring configures explicitly.
            lowest="1.23.0",
            below="2",
            server_class="mcp.server.fastmcp:FastMCP",
            default_object="mcp",
            new_project_requirement="mcp>=1.23,<2",
            run_methods=("run", "run_stdio_async", "run_sse_async", "run_streamable_http_async"),
        ),
        Generation(
            answer="mcp1-lowlevel",
            label="low-level Server (mcp.server.Server, decorators), mcp 1.x",
            package="mcp",
            lowest="1.23.0",
            below="2",
            server_class="mcp.server.lowlevel:Server",
            default_object="app",
            new_project_requirement="mcp>=1.23,<2",
            run_methods=("run",),
        ),
    )
}

# What a new project (no server yet) is created on: the generation the ecosystem is on now.
NEW_PROJECT_GENERATION = "mcp2-mcpserver"

# The same API on the next major, for the message that suggests another answer.
SUCCESSOR = {"mcp1-fastmcp": "mcp2-mcpserver", "mcp1-lowlevel": "mcp2-lowlevel"}
PREDECESSOR = {new: old for old, new in SUCCESSOR.items()}


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading numeric release of a version string: '2.3.0rc1' -> (2, 3, 0)."""
    parts = []
    for part in version.split("."):
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
        if len(digits) != len(part):
            break
    return tuple(parts)


def is_supported(generation: Generation, version: str) -> bool:
    return version_tuple(generation.lowest) <= version_tuple(version) < version_tuple(generation.below)
