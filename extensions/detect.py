"""Read an existing MCP server repository: which generation, which server, which dependency file.

The questionnaire's defaults come from here when the template is copied into a repository
that already has a server, so `copier copy --trust --defaults` needs no --data for them.
Only reading: nothing here writes, imports or runs the user's code (it is parsed with ast).

Plain Python, no Copier and no Jinja, so the tests call ``detect()`` directly.
"""

from __future__ import annotations

import ast
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from .answers import PYTHON_VERSIONS
from .generations import GENERATIONS, NEW_PROJECT_GENERATION, version_tuple

# Folders that never hold the server: environments, tooling, tests, docs.
SKIPPED_FOLDERS = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "env",
        ".env",
        ".tox",
        ".nox",
        "node_modules",
        "__pycache__",
        "build",
        "dist",
        "site-packages",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "tests",
        "test",
        "docs",
        "examples",
        "scripts",
    }
)
# The template's own files, which import the SDK too.
TEMPLATE_FILES = frozenset({"mcp_serve.py", "healthcheck.py", "sdk_check.py"})
MAX_FILES = 2000
MAX_FILE_BYTES = 512 * 1024
DEFAULT_PYTHON = "3.13"

# (module, name) imported -> generation; "lowlevel" is decided between 1.x and 2.x later.
SERVER_CLASSES = {
    ("mcp.server.fastmcp", "FastMCP"): "mcp1-fastmcp",
    ("mcp.server.fastmcp.server", "FastMCP"): "mcp1-fastmcp",
    ("mcp.server.mcpserver", "MCPServer"): "mcp2-mcpserver",
    ("mcp.server.mcpserver.server", "MCPServer"): "mcp2-mcpserver",
    ("fastmcp", "FastMCP"): "fastmcp",
    ("fastmcp.server", "FastMCP"): "fastmcp",
    # mcp.server exports the high-level class too: FastMCP in 1.x, MCPServer in 2.x.
    ("mcp.server", "FastMCP"): "mcp1-fastmcp",
    ("mcp.server", "MCPServer"): "mcp2-mcpserver",
    ("mcp.server", "Server"): "lowlevel",
    ("mcp.server.lowlevel", "Server"): "lowlevel",
    ("mcp.server.lowlevel.server", "Server"): "lowlevel",
}
# How the high-level servers take a tool: `@mcp.tool`, `mcp.add_tool(fn)`.
TOOL_REGISTRATIONS = frozenset({"tool", "add_tool"})
LOWLEVEL_V1_DECORATORS = frozenset({"list_tools", "call_tool", "list_resources", "read_resource", "list_prompts"})


@dataclass
class Candidate:
    """A place in the code where a server is made."""

    generation: str  # an sdk answer, or "lowlevel" until the major is known
    module: str  # dotted module name, or a file path when the file is not importable as a module
    attribute: str  # the object or function to name
    kind: str  # "object", "factory" or "runner"
    path: str  # the file, relative to the repository
    is_main_module: bool = False  # in a package's __main__.py
    required_parameters: list[str] = field(default_factory=list)  # a function's, without defaults
    main_guard: bool = False  # its module runs the server as a script (`if __name__ == "__main__":`)

    @property
    def spec(self) -> str:
        if self.is_main_module:
            return self.module.removesuffix(".__main__")
        return f"{self.module}:{self.attribute}"


# Where Renovate looks for its configuration, in its order, bar renovate.json (the template's).
RENOVATE_CONFIGS = (
    "renovate.json5",
    ".github/renovate.json",
    ".github/renovate.json5",
    ".gitlab/renovate.json",
    ".gitlab/renovate.json5",
    ".renovaterc",
    ".renovaterc.json",
    ".renovaterc.json5",
)


def renovate_config(root: Path) -> str:
    """The repository's own Renovate configuration, where it is not renovate.json ('' if none)."""
    found = next((name for name in RENOVATE_CONFIGS if (root / name).is_file()), "")
    if not found and (root / "package.json").is_file():
        try:
            package = json.loads((root / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            package = {}
        if isinstance(package, dict) and "renovate" in package:
            found = "package.json"
    return found


@dataclass
class Detected:
    """What was found, as default answers, and what to tell the user about it."""

    sdk: str = NEW_PROJECT_GENERATION
    server: str = ""
    dependencies: str = "requirements.txt"
    python_version: str = DEFAULT_PYTHON
    source_paths: list[str] = field(default_factory=list)
    dockerfile: str = "Dockerfile"
    found_server: bool = False
    sure: bool = True
    notes: list[str] = field(default_factory=list)
    # A Renovate configuration of the repository's own under another name than renovate.json
    # (Renovate reads only the first it finds, so a second one would silently replace it).
    renovate_config: str = ""
    # The folder read (for the validators that check an answer against what is there), and
    # whether it already holds a project (a server or a dependency file): a new one gets an
    # example server and a requirements.txt.
    root: str = ""
    existing_project: bool = False
    # The SDK package the project's dependencies name ("mcp" or "fastmcp", '' if none): such a
    # repository is never a new project, even where no server was found in its code.
    sdk_dependency: str = ""
    # No server and no SDK among the dependencies: the copy writes an example server.
    new_project: bool = True
    # Debian packages that the Python dependencies need at run time (SYSTEM_PACKAGES).
    system_packages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return "; ".join(self.notes) if self.notes else "no MCP server found (a new project)"


# --- the repository's files -----------------------------------------------------------------


def python_files(root: Path) -> list[Path]:
    found: list[Path] = []
    stack = [root]
    while stack and len(found) < MAX_FILES:
        folder = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                if entry.name not in SKIPPED_FOLDERS and not entry.name.startswith("."):
                    stack.append(entry)
            elif entry.suffix == ".py" and not (folder == root and entry.name in TEMPLATE_FILES):
                try:
                    if entry.stat().st_size <= MAX_FILE_BYTES:
                        found.append(entry)
                except OSError:
                    continue
    return found


def module_location(root: Path, path: Path) -> tuple[str, str]:
    """(importable module name or file path, the folder it is imported from) for a file."""
    relative = path.relative_to(root)
    parts = list(relative.with_suffix("").parts)
    # Walk up while the folder is a package (has __init__.py).
    folder = path.parent
    package_parts: list[str] = []
    while folder != root and (folder / "__init__.py").is_file():
        package_parts.insert(0, folder.name)
        folder = folder.parent
    module_parts = [*package_parts, parts[-1]]
    if parts[-1] == "__init__":
        module_parts = package_parts
    import_root = folder.relative_to(root).as_posix() if folder != root else ""
    if import_root in ("", "src") and all(p.isidentifier() for p in module_parts):
        return ".".join(module_parts), import_root
    # Not importable from the root or src/: name the file itself, imported from its folder.
    return relative.as_posix(), relative.parent.as_posix()


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# --- the code -------------------------------------------------------------------------------


class _ServerFinder(ast.NodeVisitor):
    """Collects where a file makes a server, and how low-level servers register handlers."""

    def __init__(self) -> None:
        self.class_names: dict[str, str] = {}  # local name -> generation
        self.module_aliases: dict[str, str] = {}  # local name -> imported module
        self.made: list[tuple[str | None, str | None, ast.Call]] = []  # (function, assigned name, call)
        self.returns: dict[str, set[str]] = {}  # function -> names it returns
        self.decorator_v1 = False
        self.typer_apps: set[str] = set()
        self.typer_command_of: dict[str, str] = {}  # top-level function -> the app whose command it is
        self.required_parameters: dict[str, list[str]] = {}  # top-level function -> parameters without default
        self.registers_at_import = False  # a tool registered by code that runs when the module is imported
        self.registering_functions: set[str] = set()  # top-level functions that register tools
        self.called_at_import: set[str] = set()  # names the top level calls
        self.main_guard = False  # `if __name__ == "__main__":`
        self.names_registration = False  # `x.tool`, `x.add_tool` anywhere in the file
        self._function: str | None = None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in TOOL_REGISTRATIONS:
            self.names_registration = True
        self.generic_visit(node)

    def visit_If(self, node: ast.If) -> None:
        if self._function is None and ast.unparse(node.test).replace("'", '"') == '__name__ == "__main__"':
            self.main_guard = True
            # What runs only as a script does not run on import.
            function, self._function = self._function, "__main__"
            self.generic_visit(node)
            self._function = function
            return
        self.generic_visit(node)

    def _note_registration(self, call: ast.expr) -> None:
        """`@x.tool`, `@x.tool(...)`, `x.add_tool(...)`: at import time, or in which function."""
        target = call.func if isinstance(call, ast.Call) else call
        if isinstance(target, ast.Attribute) and target.attr in TOOL_REGISTRATIONS:
            if self._function is None:
                self.registers_at_import = True
            else:
                self.registering_functions.add(self._function)
        elif self._function is None and isinstance(target, ast.Name) and isinstance(call, ast.Call):
            self.called_at_import.add(target.id)

    @property
    def registers_on_import(self) -> bool:
        """A registration runs when the module is imported: at its top level, or in a function of its
        own that its top level calls (`register_tools(mcp)`)."""
        return self.registers_at_import or bool(self.registering_functions & self.called_at_import)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            generation = SERVER_CLASSES.get((node.module or "", alias.name))
            if generation:
                self.class_names[alias.asname or alias.name] = generation

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.module_aliases[alias.asname or alias.name.split(".")[0]] = alias.name

    def generation_of(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Name):
            return self.class_names.get(func.id)
        if isinstance(func, ast.Attribute):
            owner = ast.unparse(func.value)
            module = self.module_aliases.get(owner.split(".")[0], "")
            full = owner.replace(owner.split(".")[0], module, 1) if module else owner
            return SERVER_CLASSES.get((full, func.attr))
        return None

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self._function
        for decorator in node.decorator_list:
            self._note_registration(decorator)
        if outer is None:
            arguments = node.args.posonlyargs + node.args.args
            defaulted = len(node.args.defaults)
            required = [a.arg for a in arguments[: len(arguments) - defaulted] if a.arg not in ("self", "cls")]
            required += [a.arg for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d is None]
            self.required_parameters[node.name] = required
            self._function = node.name
            for decorator in node.decorator_list:
                # `@app.command()`: a typer app's command. (A click command needs nothing: its
                # decorator turns the function itself into the command.)
                call = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(call, ast.Attribute) and call.attr in ("command", "callback"):
                    self.typer_command_of[node.name] = ast.unparse(call.value)
        for decorator in node.decorator_list:
            call = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(call, ast.Attribute) and call.attr in LOWLEVEL_V1_DECORATORS:
                self.decorator_v1 = True
        self.generic_visit(node)
        self._function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Return(self, node: ast.Return) -> None:
        if self._function and node.value is not None:
            self.returns.setdefault(self._function, set()).add(ast.unparse(node.value))
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        value = node.value
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        name = targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None
        if isinstance(value, ast.Call):
            if self.generation_of(value.func):
                self.made.append((self._function, name, value))
            elif self._function is None and name and ast.unparse(value.func) in ("typer.Typer", "Typer"):
                self.typer_apps.add(name)
        self.generic_visit(node)

    visit_AnnAssign = visit_Assign

    def visit_Call(self, node: ast.Call) -> None:
        self._note_registration(node)
        if self.generation_of(node.func) and not any(node is made for _, _, made in self.made):
            # Made without being assigned to a name: `return FastMCP(...)`, `serve(Server(...))`.
            self.made.append((self._function, None, node))
        self.generic_visit(node)


def _lowlevel_major(finder: _ServerFinder, calls: list[ast.Call], pinned_major: str | None) -> tuple[str, bool]:
    """mcp1-lowlevel or mcp2-lowlevel, and whether the code said so (not only the pins)."""
    if any(keyword.arg and keyword.arg.startswith("on_") for call in calls for keyword in call.keywords):
        return "mcp2-lowlevel", True
    if finder.decorator_v1:
        return "mcp1-lowlevel", True
    return ("mcp1-lowlevel" if pinned_major == "1" else "mcp2-lowlevel"), False


def find_candidates(root: Path, pinned_major: str | None) -> tuple[list[Candidate], bool]:
    candidates: list[Candidate] = []
    sure = True
    for path in python_files(root):
        source = read_text(path)
        if "Server" not in source and "FastMCP" not in source:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        finder = _ServerFinder()
        finder.visit(tree)
        if not finder.made:
            continue
        module, _ = module_location(root, path)
        relative = path.relative_to(root).as_posix()
        for function, name, call in finder.made:
            generation = finder.generation_of(call.func) or ""
            if generation == "lowlevel":
                generation, said = _lowlevel_major(finder, [c for _, _, c in finder.made], pinned_major)
                sure = sure and said
            if function is None:
                if name:
                    candidates.append(
                        Candidate(generation, module, name, "object", relative, main_guard=finder.main_guard)
                    )
                continue
            kind = "factory" if name and name in finder.returns.get(function, set()) else "runner"
            attribute = function
            required = finder.required_parameters.get(function, [])
            if finder.typer_command_of.get(function) in finder.typer_apps:
                # The Typer app parses the command line; the function alone would not.
                attribute, required = finder.typer_command_of[function], []
            if function == "__main__":
                # Made only when run as a script: the module is what to run.
                attribute, kind = "", "runner"
            candidates.append(
                Candidate(
                    generation,
                    module,
                    attribute,
                    kind,
                    relative,
                    is_main_module=path.name == "__main__.py" or function == "__main__",
                    required_parameters=required,
                    main_guard=finder.main_guard,
                )
            )
    return candidates, sure


# --- the project's metadata -------------------------------------------------------------------


# The files the `dependencies` answer may name, and what each needs next to it.
DEPENDENCY_FILES = ("requirements.txt", "pyproject.toml", "uv.lock", "poetry.lock", "fastmcp.json")


def dependency_source(root: Path, pyproject: dict) -> str:
    project_dependencies = "dependencies" in pyproject.get("project", {})
    if (root / "pyproject.toml").is_file():
        if (root / "uv.lock").is_file():
            return "uv.lock"
        if (root / "poetry.lock").is_file():
            return "poetry.lock"
        if project_dependencies and (pyproject["project"]["dependencies"] or not (root / "requirements.txt").is_file()):
            return "pyproject.toml"
    return "requirements.txt"


# Python distributions that run a program the slim Python image lacks, and the Debian package
# that brings it. Only dependencies that need it at import or at every call: GitPython fails at
# import without git.
SYSTEM_PACKAGES = {
    "gitpython": "git",
    "pygit2": "git",
    "ffmpeg-python": "ffmpeg",
    "pydub": "ffmpeg",
    "moviepy": "ffmpeg",
    "pdf2image": "poppler-utils",
    "pytesseract": "tesseract-ocr",
    "python-magic": "libmagic1",
    "pygraphviz": "graphviz",
    "graphviz": "graphviz",
    "pandoc": "pandoc",
    "pypandoc": "pandoc",
}
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_names(requirements: list[str]) -> set[str]:
    """The normalized distribution names of requirement lines (PEP 503: lower case, '-')."""
    names = set()
    for line in requirements:
        match = _REQUIREMENT_NAME.match(line.split("#")[0])
        if match and not line.lstrip().startswith("-"):
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


_SCRIPT_METADATA = re.compile(r"(?m)^# /// script\s*$\n((?:^#(?: .*)?$\n)+?)^# ///\s*$")


def inline_metadata(source: str) -> dict:
    """A script's PEP 723 block (`# /// script` ... `# ///`), read as TOML ({} if none)."""
    match = _SCRIPT_METADATA.search(source)
    if not match:
        return {}
    body = "".join(line[2:] if line.startswith("# ") else line[1:] for line in match.group(1).splitlines(True))
    try:
        return tomllib.loads(body)
    except tomllib.TOMLDecodeError:
        return {}


def fastmcp_config(root: Path) -> dict:
    """fastmcp.json, fastmcp's own project file ({} if none or unreadable)."""
    try:
        config = json.loads((root / "fastmcp.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def declared_requirements(root: Path, pyproject: dict) -> list[str]:
    """Every requirement the project declares, wherever: requirements.txt, pyproject.toml
    ([project] and Poetry's table), fastmcp.json, and a root script's PEP 723 block."""
    requirements = read_text(root / "requirements.txt").splitlines()
    requirements += [str(item) for item in pyproject.get("project", {}).get("dependencies", [])]
    poetry = pyproject.get("tool", {}).get("poetry", {}).get("dependencies", {})
    requirements += [str(name) for name in poetry if isinstance(poetry, dict)]
    environment = fastmcp_config(root).get("environment", {})
    if isinstance(environment, dict):
        requirements += [str(item) for item in environment.get("dependencies", []) or []]
    for script in sorted(root.glob("*.py")):
        requirements += [str(item) for item in inline_metadata(read_text(script)).get("dependencies", [])]
    return requirements


_PIN = re.compile(r"^\s*(fastmcp|mcp)(?:\[[^\]]*\])?\s*(==|>=|~=|<)\s*(\d+)", re.IGNORECASE | re.MULTILINE)


def locked_below(root: Path, dependencies: str, generation) -> str:
    """A note when the lock pins the SDK below the supported versions, and what the build does."""
    if dependencies not in ("uv.lock", "poetry.lock"):
        return ""
    locked = next(
        (
            str(package.get("version", ""))
            for package in read_toml(root / dependencies).get("package", [])
            if package.get("name") == generation.package
        ),
        "",
    )
    if not locked or version_tuple(locked) >= version_tuple(generation.lowest):
        return ""
    major = locked.split(".")[0]
    if dependencies == "uv.lock" and version_tuple(locked)[:1] == version_tuple(generation.lowest)[:1]:
        return (
            f"uv.lock pins {generation.package} {locked}, below {generation.lowest}: the image build upgrades it"
            f" within {major}.x (lock_policy=refresh; =exact fails the build instead)"
        )
    return f"{dependencies} pins {generation.package} {locked}, below {generation.lowest}: the build will stop"


def pinned_majors(root: Path, declared: list[str]) -> dict[str, str]:
    """The major version of mcp and fastmcp that the lock file or the declared requirements hold."""
    majors: dict[str, str] = {}
    uv_lock = read_toml(root / "uv.lock") if (root / "uv.lock").is_file() else {}
    poetry_lock = read_toml(root / "poetry.lock") if (root / "poetry.lock").is_file() else {}
    for package in uv_lock.get("package", []) + poetry_lock.get("package", []):
        if package.get("name") in ("mcp", "fastmcp") and package.get("version"):
            majors[package["name"]] = str(package["version"]).split(".")[0]
    if majors:
        return majors
    for match in _PIN.finditer("\n".join(declared)):
        name, operator, major = match.group(1).lower(), match.group(2), match.group(3)
        if operator == "<":
            major = str(max(int(major) - 1, 0))
        majors.setdefault(name, major)
    return majors


def python_version(root: Path, pyproject: dict) -> tuple[str, str]:
    """The image's Python minor version, and where it came from."""
    pinned = read_text(root / ".python-version").strip().splitlines()
    if pinned:
        match = re.match(r"^(?:cpython-|python)?(3\.\d+)", pinned[0].strip())
        if match and match.group(1) in PYTHON_VERSIONS:
            return match.group(1), ".python-version"
    own_dockerfile = re.search(
        r"^FROM\s+(?:docker\.io/)?(?:library/)?python:(3\.\d+)", read_text(root / "Dockerfile"), re.M
    )
    if own_dockerfile and own_dockerfile.group(1) in PYTHON_VERSIONS:
        return own_dockerfile.group(1), "your Dockerfile's FROM"
    requires = pyproject.get("project", {}).get("requires-python")
    if requires:
        try:
            from packaging.specifiers import SpecifierSet

            allowed = [v for v in PYTHON_VERSIONS if SpecifierSet(requires).contains(f"{v}.0", prereleases=True)]
        except Exception:  # an unreadable specifier: fall back to the default
            allowed = []
        if allowed:
            chosen = DEFAULT_PYTHON if DEFAULT_PYTHON in allowed else allowed[-1]
            return chosen, f"requires-python {requires}"
    return DEFAULT_PYTHON, ""


def local_imports(root: Path, path: Path, import_root: Path) -> set[str]:
    """Top-level modules and packages next to the code that it imports (followed transitively)."""
    found: set[str] = set()
    todo = [path]
    seen: set[Path] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            tree = ast.parse(read_text(current))
        except (SyntaxError, ValueError):
            continue
        names = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module.split(".")[0])
        for folder in {current.parent, import_root}:
            for name in names:
                package = folder / name
                # A package, or a folder of modules imported as a namespace package.
                if (package / "__init__.py").is_file() or (package.is_dir() and any(package.glob("*.py"))):
                    found.add(package.relative_to(root).as_posix())
                elif (folder / f"{name}.py").is_file() and folder / f"{name}.py" != current:
                    found.add((folder / f"{name}.py").relative_to(root).as_posix())
                    todo.append(folder / f"{name}.py")
    return found


def source_paths_for(root: Path, candidate: Candidate) -> list[str]:
    """The files and folders the server's code needs: its package (or file's folder) and what it imports."""
    location = candidate.module
    if location.endswith(".py"):
        path = root / location
        own = PurePosixPath(location).parent.as_posix()
        own = location if own == "." else own
        import_root = path.parent
    else:
        top = location.split(".")[0]
        for import_root in (root / "src", root):
            if (import_root / top / "__init__.py").is_file():
                own = (import_root / top).relative_to(root).as_posix()
                break
            if (import_root / f"{top}.py").is_file():
                own = (import_root / f"{top}.py").relative_to(root).as_posix()
                break
        else:
            return []
        path = root / candidate.path
    others = {p for p in local_imports(root, path, import_root) if not p.startswith(own + "/") and p != own}
    return [own, *sorted(others)]


def sdk_for_dependency(package: str, majors: dict[str, str]) -> str:
    """The likeliest generation for a project that names its SDK but whose server was not found."""
    if package == "fastmcp":
        return "fastmcp"
    return "mcp1-fastmcp" if majors.get("mcp") == "1" else NEW_PROJECT_GENERATION


def _module_file(base: Path, parts: list[str]) -> list[Path]:
    """The files a dotted name below base can be: a module, or a package's __init__.py."""
    target = base.joinpath(*parts) if parts else base
    return [f for f in (target.with_suffix(".py") if parts else None, target / "__init__.py") if f and f.is_file()]


def imported_files(root: Path, path: Path) -> set[Path]:
    """The project's files that importing path runs: what it imports (absolute from the root or src/,
    or relative), their packages' __init__.py, and so on."""
    seen: set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        folder = current.parent
        while folder != root and (folder / "__init__.py").is_file():  # a package runs its __init__ first
            todo.append(folder / "__init__.py")
            folder = folder.parent
        try:
            tree = ast.parse(read_text(current))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [(alias.name.split("."), []) for alias in node.names]
                bases = [root, root / "src", current.parent]
            elif isinstance(node, ast.ImportFrom):
                module = (node.module or "").split(".") if node.module else []
                names = [(module, [alias.name for alias in node.names])]
                if node.level:
                    base = current.parent
                    for _ in range(node.level - 1):
                        base = base.parent
                    bases = [base]
                else:
                    bases = [root, root / "src", current.parent]
            else:
                continue
            for parts, members in names:
                for base in bases:
                    found = _module_file(base, parts)
                    todo += found
                    for member in members:  # `from pkg import module`, `from . import subpackage`
                        todo += _module_file(base, [*parts, member])
    return seen


def read_registrations(path: Path) -> _ServerFinder:
    """How the file registers tools (a finder that saw nothing, where it cannot be parsed)."""
    finder = _ServerFinder()
    try:
        finder.visit(ast.parse(read_text(path)))
    except (SyntaxError, ValueError):
        pass
    return finder


def command_for(root: Path, best: Candidate, scripts: set[str]) -> str:
    """The project's command ([project.scripts]) that runs this server: the one in its module, else
    one whose module imports it ('' if none)."""
    own_file = (root / best.path).resolve()
    for script in sorted(scripts, key=lambda script: script.split(":")[0] != best.module):
        module = script.split(":")[0]
        if module == best.module:
            return script
        for base in (root, root / "src"):
            for path in _module_file(base, module.split(".")):
                if own_file in {f.resolve() for f in imported_files(root, path)}:
                    return script
    return ""


def served_instead(root: Path, best: Candidate, scripts: set[str]) -> tuple[str, str]:
    """What to serve instead of best, and why ('', '' to keep it): where importing the server would not
    make it whole, what the project's own command line runs."""
    if best.kind == "object" and best.generation in ("mcp1-fastmcp", "mcp2-mcpserver", "fastmcp"):
        registrations = functools.cache(read_registrations)  # each file parsed once
        if any(registrations(f).registers_on_import for f in imported_files(root, root / best.path)):
            return "", ""
        if not any(registrations(f).names_registration for f in python_files(root)):
            return "", ""
        why = f"{best.spec} gets its tools from code that importing it does not run"
    elif best.kind in ("factory", "runner") and best.required_parameters:
        why = f"{best.spec} needs {', '.join(best.required_parameters)}, which its command line gives"
    else:
        return "", ""
    if script := command_for(root, best, scripts):
        return script, f"{why}: served through the project's command {script} (its [project.scripts] entry)"
    top = best.module.split(".")[0]
    package_main = next((f for f in ((root / "src" / top), root / top) if (f / "__main__.py").is_file()), None)
    if package_main is not None and "." in best.module:
        return top, f"{why}: served as `python -m {top}` runs it"
    if best.main_guard and not best.module.endswith(".py"):
        return best.module, f"{why}: served as `python -m {best.module}` (its `__main__` block) runs it"
    return "", ""


def _rank(candidate: Candidate, scripts: set[str]) -> tuple[int, int]:
    kind = {"object": 0, "factory": 1, "runner": 2}[candidate.kind]
    return (0 if candidate.spec in scripts else 1, kind)


def detect(root: Path | str, first_copy: bool = True) -> Detected:
    """Defaults for the questionnaire from the repository at root."""
    root = Path(root)
    # A folder that is not there yet is a new project: answers are checked against it as it is.
    result = Detected(root=str(root.resolve()))
    if not root.is_dir():
        return result
    result.existing_project = any((root / name).is_file() for name in DEPENDENCY_FILES)
    pyproject = read_toml(root / "pyproject.toml")
    declared = declared_requirements(root, pyproject)
    names = requirement_names(declared)
    result.sdk_dependency = next((package for package in ("fastmcp", "mcp") if package in names), "")
    result.new_project = not result.sdk_dependency
    result.system_packages = sorted({SYSTEM_PACKAGES[name] for name in names if SYSTEM_PACKAGES.get(name)})
    if result.system_packages:
        result.notes.append(
            "system packages "
            + ", ".join(result.system_packages)
            + " for "
            + ", ".join(sorted(name for name in names if SYSTEM_PACKAGES.get(name)))
        )
    result.renovate_config = renovate_config(root)
    result.dependencies = dependency_source(root, pyproject)
    result.python_version, python_source = python_version(root, pyproject)
    if first_copy and (root / "Dockerfile").is_file():
        result.dockerfile = "Dockerfile.mcp"
        result.notes.append("a Dockerfile of yours exists, so ours is Dockerfile.mcp")
    majors = pinned_majors(root, declared)
    candidates, sure = find_candidates(root, majors.get("mcp"))
    if python_source:
        result.notes.append(f"Python {result.python_version} from {python_source}")
    if not candidates:
        if result.sdk_dependency:
            # An MCP project whose server this reading missed: never an example server in it.
            result.existing_project = True
            result.sdk = sdk_for_dependency(result.sdk_dependency, majors)
            result.sure = False
            result.notes.insert(
                0,
                f"your dependencies name {result.sdk_dependency}, but no server was found in the code:"
                " answer server=MODULE:NAME",
            )
        return result
    scripts = {str(v) for v in pyproject.get("project", {}).get("scripts", {}).values()}
    candidates.sort(key=lambda c: _rank(c, scripts))
    best = candidates[0]
    result.found_server = result.existing_project = True
    result.new_project = False
    result.sdk = best.generation
    result.server = best.spec
    if best.kind == "runner":
        # A function that runs the server: the project's own command for it parses its options too.
        top = best.module.split(".")[0]
        for script in sorted(scripts):
            if script.split(":")[0].split(".")[0] == top:
                result.server = script
                result.notes.append(f"served through the project's command {script} (its [project.scripts] entry)")
                break
    instead, why = served_instead(root, best, scripts)
    if instead:
        result.server = instead
        result.notes.append(why)
    if result.dependencies == "requirements.txt" and not (root / "requirements.txt").is_file():
        # Nothing else declares them: fastmcp's own project file, or the script's inline metadata.
        environment = fastmcp_config(root).get("environment")
        if isinstance(environment, dict) and environment.get("dependencies"):
            result.dependencies = "fastmcp.json"
        elif inline_metadata(read_text(root / best.path)).get("dependencies"):
            result.dependencies = "script"
    result.source_paths = source_paths_for(root, best)
    result.sure = sure and len({c.spec for c in candidates}) == 1
    described = f"{GENERATIONS[best.generation].label}: {best.kind} {best.spec} in {best.path}"
    result.notes.insert(0, f"found {described}")
    others = sorted({c.spec for c in candidates[1:]} - {best.spec})
    if others:
        result.notes.append("also found " + ", ".join(others))
    if not sure:
        result.notes.append("the low-level Server's mcp major was read from the dependency pins, not the code")
    if note := locked_below(root, result.dependencies, GENERATIONS[best.generation]):
        result.notes.append(note)
    has_file = (root / result.dependencies).is_file() or result.dependencies != "requirements.txt"
    source = f"{best.path}'s inline script metadata" if result.dependencies == "script" else result.dependencies
    result.notes.append(f"dependencies from {source}" if has_file else "no dependency file yet")
    return result
