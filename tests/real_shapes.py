"""The fixtures shaped like published MCP servers, one per way a real repository trips deployment.

Plain data, read by tests. Per fixture folder under tests/fixtures:

- class: the failure class it stands for (one line).
- published_like: the public repository (or kind of repository) whose shape it copies.
- subfolder: where the template is copied, relative to the fixture ("" for its root).
- sdk: the right `sdk` answer.
- serves: the server spec that really serves all its tools, in the template's form
  (`module:attribute`, or a bare module name for "run it like `python -m`"), relative to subfolder.
- tools: the tools it must list.
- dependencies: the file that holds its dependencies, relative to subfolder.
- system_packages: the Debian packages it needs at run time.

Every fixture serves `add(a, b)` -> `str(a + b)` and `get_forecast(city)` -> `Sunny in {city}`
(from another module than the server object); tests/fixtures/EXPECTED.md describes each one.
"""

from __future__ import annotations

REAL_SHAPES: dict[str, dict] = {
    "old_lock": {
        "class": "a current uv.lock (uv lock --check passes) that pins mcp 1.9.4, below the supported mcp>=1.23",
        "published_like": "the MCP quickstart weather server (uv init, uv add mcp httpx), locked in June 2025",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "weather.server:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "uv.lock",
        "system_packages": [],
    },
    "stale_lock": {
        "class": "pyproject.toml edited after uv lock (version bump, a new upper bound, a new direct dependency "
        "`requests` the lock lacks and the server imports): uv lock --check fails, --frozen installs miss requests",
        "published_like": "a setuptools src-layout MCP server with a uv.lock nobody re-ran",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "forecast_mcp.server:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "uv.lock",
        "system_packages": [],
    },
    "stale_poetry": {
        "class": "pyproject.toml edited after poetry lock (version bump, a typer upper bound): "
        "poetry check --lock fails, so poetry install/sync refuses",
        "published_like": "modelcontextprotocol/servers src/git reshaped for poetry and typer (as git_shaped), "
        "without git",
        "subfolder": "",
        "sdk": "mcp1-lowlevel",
        "serves": "mcp_weather_cli.cli:app",
        "tools": {"add", "get_forecast"},
        "dependencies": "poetry.lock",
        "system_packages": [],
    },
    "cli_registered": {
        "class": "the server object is bare: tools register on import of tools/ modules that only the "
        "console script's main() imports",
        "published_like": "a package with a tools/ folder of @mcp.tool() modules and a [project.scripts] cli",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "weather_cli.cli:main",
        "tools": {"add", "get_forecast"},
        "dependencies": "pyproject.toml",
        "system_packages": [],
    },
    "function_registered": {
        "class": "tools registered by register_tools(server), called only under if __name__ == '__main__'",
        "published_like": "a root-script FastMCP server with a register_tools(server) helper",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "server",
        "tools": {"add", "get_forecast"},
        "dependencies": "requirements.txt",
        "system_packages": [],
    },
    "serve_args": {
        "class": "the runner takes a required argument: async serve(api_key) builds a low-level Server; "
        "main() supplies the key from NOTES_API_KEY",
        "published_like": "modelcontextprotocol/servers src/* (serve() in server.py, main() in __init__.py)",
        "subfolder": "",
        "sdk": "mcp1-lowlevel",
        "serves": "mcp_server_notes:main",
        "tools": {"add", "get_forecast"},
        "dependencies": "uv.lock",
        "system_packages": [],
    },
    "factory_args": {
        "class": "the factory takes a required argument: create_server(db_path) -> MCPServer; main() parses "
        "--db-path (default notes.db)",
        "published_like": "an mcp 2.x package with an argparse main() around a create_server(...) factory",
        "subfolder": "",
        "sdk": "mcp2-mcpserver",
        "serves": "notes_mcp.server:main",
        "tools": {"add", "get_forecast", "db_path"},
        "dependencies": "pyproject.toml",
        "system_packages": [],
    },
    "mcp_server_import": {
        "class": "FastMCP imported through the mcp.server re-export (from mcp.server import FastMCP)",
        "published_like": "a root main.py FastMCP server with requirements.txt",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "main:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "requirements.txt",
        "system_packages": [],
    },
    "ignored_readme": {
        "class": "the owner's .dockerignore drops *.md, but hatchling needs readme = README.md to build",
        "published_like": "a hatchling package with its own .dockerignore (.git, .venv, *.md)",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "weather_tools.server:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "pyproject.toml",
        "system_packages": [],
    },
    "log_at_import": {
        "class": "logging.basicConfig(FileHandler('server.log')) at import: needs a writable working directory",
        "published_like": "a root-script FastMCP server that logs to a file because stdout is the protocol",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "server:mcp",
        "tools": {"add", "get_forecast", "log_lines"},
        "dependencies": "requirements.txt",
        "system_packages": [],
    },
    "gitpython": {
        "class": "import git (GitPython) at module level: fails at import without the git binary",
        "published_like": "a uv app (uv init, no build system) using GitPython, like modelcontextprotocol/servers "
        "src/git",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "server:mcp",
        "tools": {"add", "get_forecast", "git_version"},
        "dependencies": "uv.lock",
        "system_packages": ["git"],
    },
    "fastmcp_json": {
        "class": "dependencies declared only in fastmcp.json (no requirements.txt, no pyproject.toml)",
        "published_like": "a fastmcp 2.12+ project run with `fastmcp run` (gofastmcp.com project configuration)",
        "subfolder": "",
        "sdk": "fastmcp",
        "serves": "server:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "fastmcp.json",
        "system_packages": [],
    },
    "pep723": {
        "class": "dependencies only in PEP 723 inline script metadata, run with `uv run weather.py`",
        "published_like": "a single-script MCP server run with uv run (inline # /// script metadata)",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "weather:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "script",  # the inline metadata of weather.py, the server's file
        "system_packages": [],
    },
    "monorepo": {
        "class": "the server is one project of a monorepo: the template goes into src/weather-mcp-server/, "
        "a pkgutil-extended awslabs namespace package",
        "published_like": "awslabs/mcp src/*-mcp-server",
        "subfolder": "src/weather-mcp-server",
        "sdk": "mcp1-fastmcp",
        "serves": "awslabs.weather_mcp_server.server:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "uv.lock",
        "system_packages": [],
    },
    "env_collision": {
        "class": "the owner's main() reads MCP_TRANSPORT (stdio or sse only, else SystemExit) and HOST/PORT, "
        "and PORT is read as an int at import",
        "published_like": "a root-script FastMCP server switching transport on MCP_TRANSPORT",
        "subfolder": "",
        "sdk": "mcp1-fastmcp",
        "serves": "server:mcp",
        "tools": {"add", "get_forecast"},
        "dependencies": "requirements.txt",
        "system_packages": [],
    },
}
