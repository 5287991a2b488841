"""Reading an existing repository gives the questionnaire's defaults (extensions/detect.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixture_repos import DETECTED, FIXTURES
from real_shapes import REAL_SHAPES

from extensions.detect import detect
from extensions.generations import NEW_PROJECT_GENERATION


@pytest.mark.parametrize("fixture", DETECTED)
def test_each_fixture_repository_is_read_as_its_owner_runs_it(fixture):
    found = detect(FIXTURES / fixture)
    assert found.found_server
    answers = {key: getattr(found, key) for key in DETECTED[fixture]}
    assert answers == DETECTED[fixture]
    assert found.summary().startswith("found ")


def test_an_empty_folder_is_a_new_project_on_mcp_2(tmp_path):
    found = detect(tmp_path)
    assert not found.found_server and found.sdk == NEW_PROJECT_GENERATION == "mcp2-mcpserver"
    assert found.summary() == "no MCP server found (a new project)"


def test_two_servers_make_detection_unsure_and_it_says_what_it_found(tmp_path):
    (tmp_path / "a.py").write_text("from fastmcp import FastMCP\n\nmcp = FastMCP('a')\n")
    (tmp_path / "b.py").write_text("from fastmcp import FastMCP\n\nother = FastMCP('b')\n")
    found = detect(tmp_path)
    assert not found.sure
    assert found.server == "a:mcp"
    assert "also found b:other" in found.summary()


def test_a_lowlevel_server_without_handlers_in_view_takes_the_pinned_major(tmp_path):
    (tmp_path / "server.py").write_text("from mcp.server import Server\n\napp = Server('x')\n")
    (tmp_path / "requirements.txt").write_text("mcp>=1.23,<2\n")
    found = detect(tmp_path)
    assert (found.sdk, found.sure) == ("mcp1-lowlevel", False)
    assert "read from the dependency pins" in found.summary()


def test_tests_virtualenvs_and_the_templates_own_files_are_not_read(tmp_path):
    for folder in ("tests", ".venv/lib", "venv"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "s.py").write_text("from fastmcp import FastMCP\nmcp = FastMCP('t')\n")
    (tmp_path / "mcp_serve.py").write_text("from fastmcp import FastMCP\nSERVER_CLASS = FastMCP\n")
    assert not detect(tmp_path).found_server


def test_unparsable_and_odd_files_do_not_stop_detection(tmp_path):
    (tmp_path / "broken.py").write_text("def (:\n  FastMCP\n")
    (tmp_path / "binary.py").write_bytes(b"\xff\xfe\x00FastMCP")
    (tmp_path / "pyproject.toml").write_text("[project\nbroken")
    (tmp_path / ".python-version").write_text("pypy3.10\n")
    found = detect(tmp_path)
    assert not found.found_server and found.python_version == "3.13"


@pytest.mark.parametrize(
    ("requires", "expected"), [(">=3.10", "3.13"), (">=3.10,<3.13", "3.12"), ("==3.11.*", "3.11"), (">=3.14", "3.14")]
)
def test_python_follows_requires_python(tmp_path, requires, expected):
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "x"\nrequires-python = "{requires}"\n')
    assert detect(tmp_path).python_version == expected


def test_python_version_file_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nrequires-python = ">=3.10"\n')
    (tmp_path / ".python-version").write_text("3.11.9\n")
    assert detect(tmp_path).python_version == "3.11"


def test_own_dockerfile_only_matters_on_the_first_copy(tmp_path: Path):
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\n")
    assert detect(tmp_path, first_copy=True).dockerfile == "Dockerfile.mcp"
    assert detect(tmp_path, first_copy=False).dockerfile == "Dockerfile"


@pytest.mark.parametrize(
    ("module", "name", "sdk"),
    [("mcp.server", "FastMCP", "mcp1-fastmcp"), ("mcp.server", "MCPServer", "mcp2-mcpserver")],
)
def test_the_class_as_mcp_server_exports_it_is_found(tmp_path, module, name, sdk):
    (tmp_path / "main.py").write_text(f"from {module} import {name}\n\nmcp = {name}('x')\n")
    found = detect(tmp_path)
    assert (found.found_server, found.sdk, found.server, found.new_project) == (True, sdk, "main:mcp", False)


@pytest.mark.parametrize(
    ("files", "package", "sdk"),
    [
        ({"requirements.txt": "mcp>=1.2,<2\n"}, "mcp", "mcp1-fastmcp"),
        ({"pyproject.toml": '[project]\nname = "x"\ndependencies = ["fastmcp>=2.12"]\n'}, "fastmcp", "fastmcp"),
        ({"fastmcp.json": '{"environment": {"dependencies": ["fastmcp>=2.12,<3"]}}'}, "fastmcp", "fastmcp"),
        ({"weather.py": '# /// script\n# dependencies = ["mcp>=2,<3"]\n# ///\nimport mcp\n'}, "mcp", "mcp2-mcpserver"),
        ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\nmcp = "^1.23"\n'}, "mcp", "mcp2-mcpserver"),
    ],
)
def test_a_project_whose_dependencies_name_the_sdk_is_never_new(tmp_path, files, package, sdk):
    """Whatever form hides its server from this reading: no example server, and the copy asks for one."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "serve.py").write_text("import importlib\nServer = importlib.import_module('mcp.server').FastMCP\n")
    found = detect(tmp_path)
    assert (found.found_server, found.new_project, found.sdk_dependency, found.sdk) == (False, False, package, sdk)
    assert found.summary().startswith(f"your dependencies name {package}, but no server was found")


def test_a_project_without_the_sdk_among_its_dependencies_is_new(tmp_path):
    (tmp_path / "requirements.txt").write_text("mcp-proxy\nrequests  # mcp later\n")
    assert detect(tmp_path).new_project


@pytest.mark.parametrize(
    ("requirement", "packages"),
    [
        ("GitPython>=3.1", ["git"]),
        ("gitpython", ["git"]),
        ("pdf2image", ["poppler-utils"]),
        ("pytesseract\npydub", ["ffmpeg", "tesseract-ocr"]),
        ("requests", []),
    ],
)
def test_system_packages_follow_the_python_dependencies(tmp_path, requirement, packages):
    (tmp_path / "requirements.txt").write_text(f"mcp>=1.23,<2\n{requirement}\n")
    assert detect(tmp_path).system_packages == packages


@pytest.mark.parametrize("fixture", REAL_SHAPES)
def test_each_published_shape_is_read_as_its_command_line_runs_it(fixture):
    """tests/real_shapes.py: the answers `copier copy --defaults` gives are the ones that serve every tool."""
    shape = REAL_SHAPES[fixture]
    found = detect(FIXTURES / fixture / shape["subfolder"])
    got = (found.sdk, found.server, found.dependencies, found.system_packages, found.new_project)
    assert got == (shape["sdk"], shape["serves"], shape["dependencies"], shape["system_packages"], False)


def test_a_lock_below_the_supported_versions_is_said_with_what_the_build_does():
    summary = detect(FIXTURES / "old_lock").summary()
    assert "uv.lock pins mcp 1.9.4, below 1.23.0: the image build upgrades it within 1.x" in summary
    assert "pins mcp" not in detect(FIXTURES / "time_shaped").summary()


def test_a_copy_into_a_project_whose_server_is_not_found_asks_for_it_and_writes_nothing(template_copy, tmp_path):
    """Dependencies that name mcp, a server made in a way the reading does not follow: no example
    server.py next to the user's code; the copy stops naming the one answer to give."""
    import copier

    (tmp_path / "requirements.txt").write_text("mcp>=1.23,<2\n")
    (tmp_path / "app.py").write_text("import importlib\n\nmcp = importlib.import_module('mcp.server').FastMCP('x')\n")
    with pytest.raises(ValueError, match="server: your dependencies name mcp, but no server was found in your code"):
        copier.run_copy(
            str(template_copy),
            str(tmp_path),
            data={"image": "ghcr.io/acme/app-mcp"},
            defaults=True,
            unsafe=True,
            quiet=True,
        )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["app.py", "requirements.txt"]
    copier.run_copy(
        str(template_copy),
        str(tmp_path),
        data={"image": "ghcr.io/acme/app-mcp", "server": "app:mcp", "source_paths": ["app.py"]},
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    assert not (tmp_path / "server.py").exists()
    assert "mcp1-fastmcp" in (tmp_path / ".copier-answers.mcp-docker.yml").read_text()


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


SCRIPTS = '[project]\nname = "p"\ndependencies = ["mcp>=1.23,<2"]\n[project.scripts]\np = "pkg.cli:main"\n'
TOOL = "from pkg.server import mcp\n\n\n@mcp.tool()\ndef add(a: int, b: int) -> str:\n    return str(a + b)\n"


@pytest.mark.parametrize(
    "files",
    [
        # the server module imports a subpackage whose __init__ imports the modules that register
        {
            "pkg/server.py": "from mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP('p')\nfrom . import tools\n",
            "pkg/tools/__init__.py": "from . import maths  # noqa\n",
            "pkg/tools/maths.py": TOOL,
        },
        # the server module calls a function of its own that registers them
        {
            "pkg/server.py": "from mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP('p')\n\n\ndef register(server):\n"
            "    @server.tool()\n    def add(a: int, b: int) -> str:\n        return str(a + b)\n\n\nregister(mcp)\n"
        },
    ],
    ids=["subpackage-imported", "helper-called-at-import"],
)
def test_a_server_whose_import_registers_its_tools_is_served_as_the_object(tmp_path, files):
    write_tree(
        tmp_path,
        {
            "pyproject.toml": SCRIPTS,
            "pkg/__init__.py": "",
            "pkg/cli.py": "from pkg.server import mcp\n\n\ndef main():\n    mcp.run()\n",
            **files,
        },
    )
    assert detect(tmp_path).server == "pkg.server:mcp"


def test_tools_registered_only_by_the_command_line_serve_it_through_that_command(tmp_path):
    cli = "from pkg.server import mcp\n\n\ndef main():\n    import pkg.maths  # noqa\n\n    mcp.run()\n"
    write_tree(
        tmp_path,
        {
            "pyproject.toml": SCRIPTS,
            "pkg/__init__.py": "",
            "pkg/cli.py": cli,
            "pkg/maths.py": TOOL,
            "pkg/server.py": "from mcp.server.fastmcp import FastMCP\n\nmcp = FastMCP('p')\n",
        },
    )
    found = detect(tmp_path)
    assert found.server == "pkg.cli:main"
    assert "pkg.server:mcp gets its tools from code that importing it does not run" in found.summary()
