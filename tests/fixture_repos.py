"""Existing MCP server repositories (tests/fixtures) and the answers that fit each."""

from __future__ import annotations

import shutil
from pathlib import Path

import copier
from plumbum import local

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

ANSWERS = {
    "fastmcp_repo": {
        "sdk": "mcp1-fastmcp",
        "entry_point": "weather_server.py",
        "server_object": "server",
        "extra_paths": ["tools/"],
        "env_vars": [{"name": "WEATHER_API_KEY", "description": "Key for the weather API"}, "UNITS=metric"],
    },
    "lowlevel_repo": {
        "sdk": "mcp1-lowlevel",
        "entry_point": "src/weather/server.py",
        "server_object": "app",
        "extra_paths": ["src/weather/weather_data.py"],
        "env_vars": ["UNITS=metric"],
    },
}

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


def snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}


def apply_template(repo: Path, src: Path | str = REPO_ROOT, vcs_ref: str | None = "HEAD", **answers) -> Path:
    """`copier copy --trust --defaults` of the template (this checkout unless told) into the repository."""
    copier.run_copy(str(src), str(repo), data=answers, defaults=True, unsafe=True, vcs_ref=vcs_ref, quiet=True)
    return repo
