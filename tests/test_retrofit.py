"""Applying the template to an existing server repository keeps every file of the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_repos import apply_template

from extensions.gitignore import add_lines

REPO_ROOT = Path(__file__).resolve().parent.parent

USER_FILES = {
    "weather.py": "from mcp.server.fastmcp import FastMCP\n\nserver = FastMCP('weather')\n",
    "requirements.txt": "mcp[cli]==1.30.0\nhttpx\n",
    "README.md": "# Weather\n\nMy server.\n",
    ".mcp.json": '{"mcpServers": {"local": {"command": "python", "args": ["weather.py"]}}}\n',
    "tools/forecast.py": "def forecast():\n    return 'sunny'\n",
}


def _apply(project: Path, **answers) -> None:
    apply_template(project, **{"entry_point": "weather.py", "server_object": "server", **answers})


@pytest.mark.parametrize(
    "gitignore", ["__pycache__/\n.venv\n", "__pycache__/\n.venv", ""], ids=["newline", "no-newline", "absent"]
)
def test_existing_files_are_kept(tmp_path, gitignore):
    for name, text in USER_FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    if gitignore:
        (tmp_path / ".gitignore").write_text(gitignore)

    _apply(tmp_path, extra_paths=["tools/"])
    _apply(tmp_path, extra_paths=["tools/"])  # applied again: still nothing lost or doubled

    for name, text in USER_FILES.items():
        assert (tmp_path / name).read_text() == text, f"{name} was changed"
    expected = (gitignore + "\n" if gitignore and not gitignore.endswith("\n") else gitignore) + "VERSION\n.env\n"
    assert (tmp_path / ".gitignore").read_text() == expected
    assert "COPY weather.py weather.py" in (tmp_path / "Dockerfile").read_text()
    assert 'SERVER_OBJECT = "server"' in (tmp_path / "mcp_serve.py").read_text()


def test_gitignore_lines_already_present_are_not_added(tmp_path):
    gitignore = tmp_path / ".gitignore"
    gitignore.write_text("/VERSION\n# secrets\n.env\n")
    assert add_lines(gitignore, ["VERSION", ".env"]) == []
    assert gitignore.read_text() == "/VERSION\n# secrets\n.env\n"


def test_example_server_only_for_a_new_project(tmp_path):
    _apply(tmp_path / "new", entry_point="src/weather_server.py")
    example = (tmp_path / "new/src/weather_server.py").read_text()
    assert "mcp = FastMCP(" not in example and "server = FastMCP(" in example
    assert (tmp_path / "new/requirements.txt").read_text().splitlines()[-1] == "mcp>=1.23,<2"
