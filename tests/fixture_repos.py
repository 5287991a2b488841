"""Existing MCP server repositories (tests/fixtures) and the answers that fit each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import copier
from plumbum import local

from extensions import new_project
from extensions.answers import default_server
from extensions.deployment import script_file
from extensions.generations import GENERATIONS

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The fixture servers' contract (tests/fixtures/EXPECTED.md): the tools every one of them has, and
# the repositories on an SDK with custom_route, which answer GET /status with "ok".
CONTRACT_TOOLS = {"add", "get_forecast", "get_setting", "slow_progress", "lifespan_entries"}
CUSTOM_ROUTES = {"fastmcp_repo", "mcp2_factory", "fastmcp4_app", "fastmcp3_typer", "mcp2_module_main"}

# What reading each repository must find: the answers `copier copy --trust --defaults` then gives.
DETECTED = {
    "fastmcp_repo": {
        "sdk": "mcp1-fastmcp",
        "server": "weather_server:server",
        "dependencies": "requirements.txt",
        "python_version": "3.13",
        "source_paths": ["weather_server.py", "tools"],
        "dockerfile": "Dockerfile",
    },
    "lowlevel_repo": {
        "sdk": "mcp1-lowlevel",
        "server": "src/weather/server.py:app",
        "dependencies": "requirements.txt",
        "python_version": "3.13",
        "source_paths": ["src/weather"],
        "dockerfile": "Dockerfile",
    },
    "time_shaped": {
        "sdk": "mcp1-lowlevel",
        "server": "mcp_server_weather:main",
        "dependencies": "uv.lock",
        "python_version": "3.12",
        "source_paths": ["src/mcp_server_weather"],
        "dockerfile": "Dockerfile",
    },
    "git_shaped": {
        "sdk": "mcp1-lowlevel",
        "server": "mcp_weather_git.cli:app",
        "dependencies": "poetry.lock",
        "python_version": "3.13",
        "source_paths": ["src/mcp_weather_git"],
        "dockerfile": "Dockerfile",
    },
    "mcp2_factory": {
        "sdk": "mcp2-mcpserver",
        "server": "weather_mcp.server:create_server",
        "dependencies": "pyproject.toml",
        "python_version": "3.13",
        "source_paths": ["weather_mcp"],
        "dockerfile": "Dockerfile",
    },
    "mcp2_lowlevel": {
        "sdk": "mcp2-lowlevel",
        "server": "app:server",
        "dependencies": "requirements.txt",
        "python_version": "3.12",
        "source_paths": ["app.py", "forecast.py"],
        "dockerfile": "Dockerfile.mcp",
    },
    "fastmcp4_app": {
        "sdk": "fastmcp",
        "server": "weather_app.server:mcp",
        "dependencies": "uv.lock",
        "python_version": "3.13",
        "source_paths": ["src/weather_app"],
        "dockerfile": "Dockerfile",
    },
    "fastmcp3_typer": {
        "sdk": "fastmcp",
        "server": "cli:app",
        "dependencies": "requirements.txt",
        "python_version": "3.13",
        "source_paths": ["cli.py", "forecast.py"],
        "dockerfile": "Dockerfile",
    },
    "mcp2_module_main": {
        "sdk": "mcp2-mcpserver",
        "server": "weather",
        "dependencies": "requirements.txt",
        "python_version": "3.13",
        "source_paths": ["weather"],
        "dockerfile": "Dockerfile",
    },
}
# What no code can tell, given with --data: the variables and system packages a deployment needs.
DATA = {
    "fastmcp_repo": {
        "env_vars": [{"name": "WEATHER_API_KEY", "description": "Key for the weather API"}, "UNITS=metric"]
    },
    "lowlevel_repo": {"env_vars": ["UNITS=metric"]},
    "git_shaped": {"system_packages": ["git"]},
}
# The SDK each fixture is written for, as installed to run it locally (tests/sdk_envs.py).
SDK_REQUIREMENT = {
    "fastmcp_repo": "mcp==1.30.0",
    "lowlevel_repo": "mcp==1.30.0",
    "time_shaped": "mcp==1.30.0",
    "git_shaped": "mcp==1.30.0",
    "mcp2_factory": "mcp==2.3.0",
    "mcp2_lowlevel": "mcp==2.3.0",
    "fastmcp4_app": "fastmcp==4.2.3",
    "fastmcp3_typer": "fastmcp==3.4.11",
    "mcp2_module_main": "mcp==2.3.0",
}
# Kept for the tests that give every answer: the detected ones and the data.
ANSWERS = {name: {**answers, **DATA.get(name, {})} for name, answers in DETECTED.items()}

_git = local["git"].with_env(
    GIT_AUTHOR_NAME="Fixture",
    GIT_AUTHOR_EMAIL="fixture@example.com",
    GIT_COMMITTER_NAME="Fixture",
    GIT_COMMITTER_EMAIL="fixture@example.com",
)


def git(repo: Path, *args: str) -> str:
    return _git("-C", str(repo), *args)


def checkout_fixture(name: str, destination: Path) -> Path:
    """A copy of the fixture repository, committed in a git repository of its own."""
    shutil.copytree(FIXTURES / name, destination)
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "the user's server")
    return destination


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def gitignore_after(before: bytes, tokens: bool = True) -> bytes:
    """The user's .gitignore after the template's task: VERSION and .env appended (and mcp-tokens/, where
    the server reads the clients' token hashes, with auth=tokens), each only if missing."""
    text = before.decode()
    present = {line.strip().lstrip("/") for line in text.splitlines()}
    wanted = ("VERSION", ".env", *(["mcp-tokens/"] if tokens else []))
    missing = "".join(f"{line}\n" for line in wanted if line not in present)
    return (text + ("\n" if missing and text and not text.endswith("\n") else "") + missing).encode()


def snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


def apply_template(repo: Path, src: Path | str = REPO_ROOT, vcs_ref: str | None = "HEAD", **answers) -> Path:
    """`copier copy --trust --defaults` of the template (this checkout unless told) into the repository."""
    copier.run_copy(str(src), str(repo), data=answers, defaults=True, unsafe=True, vcs_ref=vcs_ref, quiet=True)
    return repo


# The dependency files a new project with these answers starts from (tests/fixtures/new_project_locks).
LOCK_FILES = {"pyproject.toml": [], "uv.lock": ["uv.lock"], "poetry.lock": ["poetry.lock"]}


def prepare_new_project(repo: Path, answers: dict) -> list[str]:
    """A new project's folder before the template's copy, as its user makes it: the dependency files
    its answers name (a requirements.txt is made by the copy itself) and the paths its answers copy
    besides the example server. Returns what it wrote."""
    repo.mkdir(parents=True, exist_ok=True)
    written = []
    source = FIXTURES / "new_project_locks" / answers.get("sdk", "mcp2-mcpserver")
    dependencies = answers.get("dependencies", "requirements.txt")
    if dependencies in LOCK_FILES:
        for name in ["pyproject.toml", *LOCK_FILES[dependencies]]:
            shutil.copy(source / name, repo / name)
            written.append(name)
        # Dependencies that name the SDK make a project that has its server (the template writes no
        # example into a project like that): the example server, written first by the user.
        server = answers.get("server") or default_server(answers.get("sdk", "mcp2-mcpserver"))
        example = {"image": "ghcr.io/acme/weather-mcp", "transport": "streamable-http", **answers, "server": server}
        written += new_project.create(repo, {"sdk": "mcp2-mcpserver", **example})
    if dependencies in ("fastmcp.json", "script"):
        # Declared where only this project's own tools read them, next to a server that is there.
        server = answers.get("server") or default_server(answers.get("sdk", "mcp2-mcpserver"))
        example = {"image": "ghcr.io/acme/weather-mcp", "transport": "streamable-http", **answers, "server": server}
        written += new_project.create(repo, {"sdk": "mcp2-mcpserver", **example})
        requirement = GENERATIONS[answers.get("sdk", "mcp2-mcpserver")].new_project_requirement
        if dependencies == "fastmcp.json":
            (repo / "fastmcp.json").write_text(json.dumps({"environment": {"dependencies": [requirement]}}) + "\n")
            written.append("fastmcp.json")
        else:
            script = repo / script_file(server)
            block = f'# /// script\n# dependencies = ["{requirement}"]\n# ///\n'
            script.write_text(block + script.read_text())
    for path in answers.get("source_paths", []):
        if path.endswith("/"):
            (repo / path / "helper.py").parent.mkdir(parents=True, exist_ok=True)
            (repo / path / "helper.py").write_text("HELPER = 1\n")
            written.append(f"{path}helper.py")
        elif path != "server.py":
            (repo / path).write_text("FORMAT = 1\n")
            written.append(path)
    return written
