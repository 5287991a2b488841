"""Count the calls that reach a tool: the example server's tool prints a marker when it runs.

The credential check answers before the MCP app; a refused request must never run a tool, and
the count, read from the server's log (a file, or `docker logs`), shows that it did not.
"""

from __future__ import annotations

import re
from pathlib import Path

MARKER = "tool-call-reached-the-tool"
# The example servers' tool function: `def add(` (FastMCP, MCPServer, fastmcp) or the low-level `call_tool`.
TOOL_DEF = re.compile(r"^(?:async )?def (?:add|call_tool)\(.*\n", re.MULTILINE)


def instrument(server_file: Path) -> None:
    """Make the example server's tool print MARKER to stderr each time it runs."""
    source = server_file.read_text()
    match = TOOL_DEF.search(source)
    assert match, f"no tool function in {server_file}"
    line = f'    print("{MARKER}", file=__import__("sys").stderr, flush=True)\n'
    server_file.write_text(source[: match.end()] + line + source[match.end() :])


def count(log: str) -> int:
    return log.count(MARKER)
