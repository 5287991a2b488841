"""What the questionnaire's answers may be, and what the template derives from them.

Plain functions with no Jinja and no Copier in them, so they are tested directly.
Every ``*_error`` function returns "" for a good answer, or a message that names the
question and says what is expected (Copier shows it and asks again).
"""

from __future__ import annotations

import keyword
import re
import sys
import unicodedata
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

from .deployment import (
    RESERVED_ENV_VARS,
    TRANSPORTS,
    clean_prefix,
    front_for,
    parse_env_var,
    registry_host,
    script_file,
)
from .dockerignore import ignored_by
from .generations import GENERATIONS
from .generations import version_tuple as parse_version

PYTHON_VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")

# Module names the server must not take: importing it would shadow these modules, which the
# wiring imports (or the template's own files), as Python's standard library modules would be.
RESERVED_MODULES = frozenset(
    {
        *("mcp", "fastmcp", "uvicorn", "starlette", "anyio", "pydantic", "jwt", "httpx", "sse_starlette"),
        *("mcp_serve", "mcp_auth", "mcp_sessions", "healthcheck", "sdk_check", "check_deployment"),
    }
)
# Newer than some Python that runs Copier, in the image's Python (3.14).
NEWER_STDLIB_MODULES = frozenset({"annotationlib", "compression"})

# Whole answers are compared with fullmatch: a `$` would also match before a trailing newline.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The service (image basename) names files (nginx/NAME.conf), containers and nginx zones.
MAX_SERVICE_NAME = 100
_ENV_DEFAULT_FORBIDDEN = re.compile(r"[\s\"'$`{}#\\]")
_PATH_FORBIDDEN = re.compile(r"[\s*?\[\]\\\"'$;{}]")
_IMAGE_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_REGISTRY_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?"
)
_HOSTNAME_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PREFIX_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")
# What a server path may hold: it is pasted unquoted into shell commands (DEPLOYMENT.md) and nginx.
_SERVER_PATH = re.compile(r"/[A-Za-z0-9._/@+=,:%-]*")
# URLs pasted into .env and compose (where $ interpolates), Python and Markdown: the RFC 3986
# characters a URL needs, without those that compose, a shell or nginx would read as syntax.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/@%+=,-]+")
# OAuth scope tokens (RFC 6749 section 3.3), without what compose or a shell would read as syntax.
_SCOPE = re.compile(r"[A-Za-z0-9._:/*+=@~][A-Za-z0-9._:/*+=@~-]*")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
# The official MCP Registry's rules for a server's name (modelcontextprotocol/registry,
# internal/validators/validators.go): namespace/name, each part starting and ending with a letter or digit.
_REGISTRY_NAMESPACE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9.-]*[a-zA-Z0-9]")
_REGISTRY_NAME_PART = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]")
# A GitHub user or organization name, as io.github.NAME spells it.
_GITHUB_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
_DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")


_CONTROL_NAMES = {"\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "TAB", "\x00": "NUL", "\x1b": "ESCAPE"}


def unprintable(value: str) -> str:
    """The first character no rendered file may carry, named ("U+0000 NULL"), or "".

    Control and format characters (NUL, ESC, newlines, zero-width and direction marks, BOM) and
    line or paragraph separators: each ends or garbles a line of a Dockerfile, nginx config,
    YAML or shell script, or hides what the line says from the person reading it.
    """
    for char in value:
        if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
            return f"U+{ord(char):04X} {unicodedata.name(char, _CONTROL_NAMES.get(char, 'control character'))}"
    return ""


def _unprintable_error(question: str, value: str) -> str:
    if found := unprintable(value):
        return f"{question}: {value!r} contains an invisible or control character ({found}); expected plain text"
    return ""


def _relative_path_error(question: str, value: Any, *, what: str) -> str:
    """Shared rules for a path inside the project: relative, no '..', nothing Docker's COPY trips on."""
    if not isinstance(value, str) or not value.strip():
        return f"{question}: expected {what}, got an empty answer"
    if error := _unprintable_error(question, value):
        return error
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        return f"{question}: {value!r} is absolute; expected {what} relative to the project root"
    parts = PurePosixPath(value).parts
    if ".." in parts:
        return f"{question}: {value!r} leaves the project ('..'); expected {what} inside it"
    if _PATH_FORBIDDEN.search(value):
        return f"{question}: {value!r} contains spaces, quotes or wildcards; expected a plain path"
    if value.startswith("-"):
        return f"{question}: {value!r} starts with '-'; expected {what}"
    if pattern := ignored_by(normalize_path(value)):
        return f"{question}: {value!r} is kept out of the image by the .dockerignore pattern {pattern!r}"
    return ""


# --- the server -------------------------------------------------------------------------------


def parse_server(value: str) -> tuple[str, str]:
    """'pkg.module:attr' -> ('pkg.module', 'attr'); 'path/file.py:attr'; 'pkg' (run as python -m) -> ('pkg', '')."""
    location, _, attribute = value.partition(":")
    return location, attribute


def server_error(value: Any, new_project: bool = False, sdk_dependency: str = "") -> str:
    """new_project: nothing to serve exists yet, and the answer names where the example server goes.
    sdk_dependency: the SDK the project's dependencies name, where its server was not found."""
    what = (
        "MODULE:NAME as Python tools name an app, e.g. server:mcp, my_pkg.server:create_server, "
        "src/weather/server.py:app, or a package run as `python -m`, e.g. my_pkg"
    )
    if not isinstance(value, str) or not value.strip():
        if sdk_dependency and not new_project:
            return (
                f"server: your dependencies name {sdk_dependency}, but no server was found in your code; name it"
                f" (--data server=...): {what}"
            )
        return f"server: expected {what}"
    location, attribute = parse_server(value)
    if not value.isascii():
        # Python reads names in NFKC: a full-width "ｍcp" is the module mcp, and Docker's COPY
        # and the file system do not agree with it on such a name.
        return f"server: {value!r} has characters other than ASCII; expected {what}"
    if attribute.endswith("()"):
        return f"server: {value!r}: name the function without (); a function is called to get or run the server"
    if attribute and not all(part.isidentifier() and not keyword.iskeyword(part) for part in attribute.split(".")):
        return f"server: {attribute!r} is not a Python name; expected {what}"
    if location.endswith(".py"):
        if error := _relative_path_error("server", location, what="a .py file"):
            return error
        stem = PurePosixPath(location).stem
        if not attribute:
            return f"server: {value!r} names a file but no object; expected e.g. {location}:mcp"
        module_names = [stem]
    else:
        module_names = location.split(".")
        if not all(name.isidentifier() and not keyword.iskeyword(name) for name in module_names):
            return f"server: {location!r} is not an importable module path; expected {what}"
    top = module_names[0]
    if top in RESERVED_MODULES:
        return f"server: a module named {top!r} would shadow the {top!r} module the wiring imports; rename it"
    if top in sys.stdlib_module_names or top in NEWER_STDLIB_MODULES:
        return (
            f"server: a module named {top!r} would shadow Python's own {top!r} module (and break what imports"
            " it); rename it"
        )
    if new_project and not attribute:
        return (
            f"server: {value!r} names a module to run, but this folder has no server yet: a new project's example"
            " server needs MODULE:NAME, e.g. server:mcp"
        )
    return ""


def default_server(sdk: str) -> str:
    """A new project's answer: the example server object in server.py."""
    return f"server:{GENERATIONS[sdk].default_object}"


def new_server_file(server: str) -> str:
    """Where a new project's example server goes for this answer ('' if it names no object)."""
    location, attribute = parse_server(server)
    if not attribute:
        return ""
    if location.endswith(".py"):
        return str(PurePosixPath(location))
    return "/".join(location.split(".")) + ".py"


# --- what goes into the image -----------------------------------------------------------------


def normalize_path(value: str) -> str:
    """'tools/' and './tools' both mean 'tools' to Docker's COPY."""
    return str(PurePosixPath(value))


def server_code_paths(server: str) -> list[str]:
    """Where the server's code can be for mcp_serve.py to import it (from /app or /app/src)."""
    location, _ = parse_server(server)
    if location.endswith(".py"):
        return [normalize_path(location)]
    top = location.split(".")[0]
    return [f"{top}.py", top, f"src/{top}.py", f"src/{top}"]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _project_root(detected: Any) -> Path | None:
    """The destination folder, where `detected` (detect.py) says which one it is."""
    root = detected.get("root") if isinstance(detected, dict) else None
    return Path(root) if root else None


def source_paths_error(value: Any, server: Any = None, detected: Any = None) -> str:
    if not isinstance(value, list) or not value:
        return "source_paths: expected a YAML list of relative paths, with the server's code, e.g. [server.py, tools/]"
    seen: set[str] = set()
    for item in value:
        if error := _relative_path_error("source_paths", item, what="a file or folder"):
            return error
        path = normalize_path(item)
        if path == ".":
            return "source_paths: '.' would copy the whole project; list the files and folders the server needs"
        if path in seen:
            return f"source_paths: {item!r} is listed twice"
        seen.add(path)
    if isinstance(server, str) and not server_error(server):
        code = server_code_paths(server)
        if not any(place == path or place.startswith(path + "/") for place in code for path in seen):
            return (
                f"source_paths: none of them holds the server's code (question server: {server}), so the image"
                f" would not have it; add {default_source_paths(server)[0]}"
            )
    if root := _project_root(detected):
        # What the build copies must be there; a new project's example server is written after the questions.
        example = new_server_file(server) if isinstance(server, str) and detected.get("new_project", True) else ""
        for path in sorted(seen):
            if not (root / path).exists() and not (example and (example == path or example.startswith(path + "/"))):
                return f"source_paths: {path!r} is not in this project, so the image build would fail; expected what is"
    return ""


def default_source_paths(server: str) -> list[str]:
    """For a new project: the file the example server is written to, or its top-level package."""
    location, _ = parse_server(server)
    if location.endswith(".py"):
        folder = PurePosixPath(location).parent
        return [str(folder) if str(folder) != "." else location]
    top = location.split(".")[0]
    return [f"{top}.py"] if "." not in location else [top]


def system_packages_error(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return "system_packages: expected a YAML list of Debian package names, e.g. [git, ffmpeg]"
    for item in value:
        name, _, version = item.partition("=")
        if not _DEBIAN_PACKAGE.fullmatch(name) or (version and not re.fullmatch(r"[A-Za-z0-9.+~:-]+", version)):
            return f"system_packages: {item!r} is not a Debian package name (optionally =version), e.g. git"
    if len(set(value)) != len(value):
        return "system_packages: a package is listed twice"
    return ""


def python_version_error(value: Any) -> str:
    if value not in PYTHON_VERSIONS:
        return f"python_version: {value!r} is not one of {', '.join(PYTHON_VERSIONS)} (the python:X.Y-slim images)"
    return ""


def dockerfile_error(value: Any, detected: Any = None) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"Dockerfile(?:\.[A-Za-z0-9_-]+)?", value):
        return f"dockerfile: {value!r}: expected Dockerfile, or Dockerfile.NAME next to a Dockerfile of yours"
    users = detected.get("dockerfile", "Dockerfile") if isinstance(detected, dict) else "Dockerfile"
    if value == "Dockerfile" and users != "Dockerfile":
        # The copy keeps the user's Dockerfile: the image built would be theirs, and never run the wiring.
        return (
            f"dockerfile: this project has a Dockerfile of its own, which the template leaves alone; expected"
            f" another name, e.g. {detected['dockerfile']}"
        )
    return ""


def dependencies_error(value: Any, detected: Any = None, server: Any = None) -> str:
    """The dependency file the answer names is in the project (a new one gets a requirements.txt)."""
    root = _project_root(detected)
    if root is None or not isinstance(value, str):
        return ""
    if value == "script":
        script = script_file(server) if isinstance(server, str) and server else ""
        if not script or "# /// script" not in _read(root / script):
            return (
                "dependencies: script means the inline metadata (PEP 723 `# /// script`) of the server's file,"
                f" and {script or 'the server answer'} has none; expected the file the project keeps its"
                " dependencies in"
            )
        return ""
    needed = {"requirements.txt": [], "pyproject.toml": ["pyproject.toml"], "fastmcp.json": ["fastmcp.json"]}.get(
        value, ["pyproject.toml", value]
    )
    if value == "requirements.txt" and (root / "pyproject.toml").is_file() and not (root / value).is_file():
        return (
            "dependencies: this project has no requirements.txt but a pyproject.toml; expected pyproject.toml"
            " (or uv.lock, poetry.lock: the lock the project keeps)"
        )
    missing = [name for name in needed if not (root / name).is_file()]
    if missing:
        return (
            f"dependencies: {value} needs {' and '.join(missing)}, which this project does not have; expected the"
            " file it keeps its dependencies in (a new project: requirements.txt, which is made for it)"
        )
    return ""


def sdk_transport_error(sdk: str, transport: str) -> str:
    generation = GENERATIONS.get(sdk)
    if generation and transport not in generation.transports:
        return f"transport: {generation.label} has no {transport}; expected one of {', '.join(generation.transports)}"
    return ""


# --- environment, image, network ----------------------------------------------------------------


def env_vars_error(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, list):
        return "env_vars: expected a YAML list, e.g. [API_KEY, LOG_LEVEL=info]"
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, (str, dict)):
            return f"env_vars: {item!r} is neither NAME, NAME=default nor {{name: ..., default: ..., description: ...}}"
        fields = item.values() if isinstance(item, dict) else [item]
        if error := next(filter(None, (_unprintable_error("env_vars", str(f)) for f in fields)), ""):
            return error
        var = parse_env_var(item)
        name = var["name"]
        if not _ENV_NAME.fullmatch(name or ""):
            return (
                f"env_vars: {name!r} is not a valid variable name; "
                "expected letters, digits and '_', not starting with a digit"
            )
        if name.upper() in RESERVED_ENV_VARS:
            return f"env_vars: {name} is set or read by the template itself; choose another name"
        if name in seen:
            return f"env_vars: {name} is listed twice"
        seen.add(name)
        if var["default"] and _ENV_DEFAULT_FORBIDDEN.search(var["default"]):
            return f"env_vars: the default of {name} may not contain spaces, quotes, $, {{, }}, # or backslashes"
    return ""


def image_error(value: Any) -> str:
    what = "a lowercase image reference without a tag, e.g. ghcr.io/my-org/my-mcp"
    if not isinstance(value, str) or not value:
        return f"image: expected {what}"
    if "@" in value:
        return f"image: {value!r} has a digest; expected {what}"
    if value != value.lower():
        return f"image: {value!r} has uppercase letters; expected {what}"
    path = value.split("/")
    if len(path) == 1 and "." in value:
        return f"image: {value!r} names only a registry; expected {what}"
    if path[0] == registry_host(value):
        registry, *path = path
        if not _REGISTRY_HOST.fullmatch(registry) or not path:
            return f"image: {value!r} does not name a repository on {registry}; expected {what}"
        port = registry.partition(":")[2]
        if port and not 1 <= int(port) <= 65535:
            return f"image: the registry's port {port} is not a port (1 to 65535); expected {what}"
    if ":" in path[-1]:
        return f"image: {value!r} has a tag; build-publish.sh adds the tags, so expected {what}"
    for component in path:
        if not _IMAGE_COMPONENT.fullmatch(component):
            return f"image: {component!r} is not a valid path component; expected {what}"
    if len(path[-1]) < 2:
        return f"image: its last part names the container, which Docker wants 2 characters or more; expected {what}"
    if len(path[-1]) > MAX_SERVICE_NAME:
        return f"image: its last part names the service and files; expected at most {MAX_SERVICE_NAME} characters"
    if len(value) > 255:
        return f"image: {len(value)} characters; Docker allows at most 255 in an image name"
    return ""


def hostname_error(value: Any, question: str, allow_port: bool = False, allow_address: bool = True) -> str:
    port_words = "with an optional :port" if allow_port else "no port"
    what = f"a host name such as mcp.example.com (no scheme, no path, {port_words})"
    if not isinstance(value, str) or not value:
        return f"{question}: expected {what}"
    host, colon, port = value.partition(":") if allow_port else (value, "", "")
    if "://" in value or "/" in value or ":" in host or (colon and not port.isdigit()):
        return f"{question}: {value!r} is not a bare host name; expected {what}"
    if port and port_error(int(port), question):
        return port_error(int(port), question)
    if len(host) > 253 or not all(_HOSTNAME_LABEL.fullmatch(label) for label in host.split(".")):
        return f"{question}: {value!r} is not a valid lowercase host name; expected {what}"
    if not allow_address and re.fullmatch(r"[0-9.]+", host):
        # A Kubernetes Ingress rule's host must be a DNS name (the API refuses an address).
        return f"{question}: {value!r} is an IP address; an Ingress needs a DNS name; expected {what}"
    return ""


def url_prefix_error(value: Any) -> str:
    what = "a path such as my-mcp or tools/my-mcp"
    prefix = clean_prefix(value) if isinstance(value, str) else ""
    if not prefix:
        return f"url_prefix: expected {what}; the server needs a path of its own behind nginx"
    segments = prefix.split("/")
    if segments[0] == ".well-known":
        return "url_prefix: .well-known is reserved for discovery documents; expected another path"
    if not all(_PREFIX_SEGMENT.fullmatch(segment) for segment in segments):
        return f"url_prefix: {value!r} has characters a URL path cannot carry plainly; expected {what}"
    return ""


def endpoint_of(transport: str) -> str:
    """The path a transport's clients connect to: /mcp or /sse."""
    return TRANSPORTS.get(transport, TRANSPORTS["streamable-http"])[0]


def https_url_error(value: Any, question: str, transport: str | None = None) -> str:
    """An absolute https:// URL (http:// only on this machine), no query, no fragment; with a
    transport, its path ends in that transport's endpoint."""
    example = "https://auth.example.com/" if transport is None else f"https://mcp.example.com{endpoint_of(transport)}"
    what = f"an https:// URL such as {example}"
    if not isinstance(value, str) or not value:
        return f"{question}: expected {what}"
    if error := _unprintable_error(question, value):
        return error
    if not _URL_CHARACTERS.fullmatch(value):
        unusable = "spaces, quotes, $, a query or a fragment"
        return f"{question}: {value!r} has characters this URL cannot carry ({unusable}); expected {what}"
    parts = urllib.parse.urlsplit(value)
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return f"{question}: {value!r} has no valid port; expected {what}"
    if parts.scheme not in ("https", "http") or not host or (parts.scheme == "http" and host not in _LOOPBACK_HOSTS):
        return f"{question}: {value!r} is not an https:// URL; expected {what} (http:// only for localhost)"
    if parts.username is not None or parts.query or parts.fragment or "?" in value or "#" in value:
        return f"{question}: {value!r} must have no user, query or fragment; expected {what}"
    if port == 0:
        return f"{question}: {value!r} has no valid port; expected {what}"
    if transport is not None and not parts.path.endswith(endpoint_of(transport)):
        return (
            f"{question}: {value!r} must end in {endpoint_of(transport)}, the endpoint of the transport"
            f" {transport}; expected {what}"
        )
    return ""


def oauth_scopes_error(value: Any) -> str:
    what = "a YAML list of scopes such as [mcp:tools], or [] for none"
    if not isinstance(value, list):
        return f"oauth_scopes: expected {what}"
    for scope in value:
        if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
            return (
                f"oauth_scopes: {scope!r} is not a scope (letters, digits and . _ : / * + = @ ~ -, not first); "
                f"expected {what}"
            )
    if len(set(value)) != len(value):
        return f"oauth_scopes: a scope is listed twice; expected {what}"
    return ""


def replicas_error(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 100:
        return f"replicas: {value!r} is not a number of replicas; expected a whole number from 1 to 100"
    return ""


def calls_per_second_error(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10000:
        return (
            f"calls_per_second: {value!r} is not a rate; expected a whole number of requests a second from 1 to"
            " 10000, or 0 for no limit"
        )
    return ""


def port_error(value: Any, question: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"{question}: {value!r} is not a port; expected a whole number from 1 to 65535"
    return ""


def server_path_error(value: Any, question: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        return f"{question}: {value!r} is not an absolute path on the nginx host; expected e.g. /etc/..."
    if error := _unprintable_error(question, value):
        return error
    if not _SERVER_PATH.fullmatch(value):
        return (
            f"{question}: {value!r} has characters a shell or nginx would read as syntax; expected a plain"
            " absolute path (letters, digits and . _ - / @ + = , : %)"
        )
    return ""


def platform_error(value: Any) -> str:
    """One platform, or several comma-separated (a multi-platform image, built with buildx)."""
    platforms = value.split(",") if isinstance(value, str) else [value]
    if not all(isinstance(p, str) and _PLATFORM.fullmatch(p) for p in platforms):
        return (
            f"platform: {value!r} is not a platform; expected os/arch such as linux/amd64 or linux/arm64,"
            " or several separated by commas (linux/amd64,linux/arm64)"
        )
    if len(set(platforms)) != len(platforms):
        return f"platform: {value!r} names a platform twice"
    return ""


def reversed_domain(host: str) -> str:
    """mcp.example.com -> com.example.mcp: the registry namespace a domain's owner may publish under."""
    return ".".join(reversed(host.split(".")))


def mcp_registry_error(value: Any, orchestrator: str, use_nginx: Any, https_port: Any) -> str:
    """Domain auth needs the proof served at https://HOST/.well-known/mcp-registry-auth, on port 443
    (the registry asks there, and follows no redirect): by this template's nginx."""
    if value != "domain":
        return ""
    if not front_for({"orchestrator": orchestrator, "use_nginx": use_nginx is True}).nginx:
        return (
            "mcp_registry: domain needs this template's nginx to serve the registry's key at"
            " /.well-known/mcp-registry-auth; answer github, or none and publish by hand"
        )
    if https_port != 443:
        return (
            f"mcp_registry: the registry reads https://HOST/.well-known/mcp-registry-auth on port 443, and nginx"
            f" serves HTTPS on {https_port} (question https_port); answer github, or serve HTTPS on 443"
        )
    return ""


def default_registry_name(mcp_registry: str, image: str, public_host: Any) -> str:
    """io.github.OWNER/NAME (OWNER read from a ghcr.io image) or the public host reversed/NAME."""
    service = image.rsplit("/", 1)[-1]
    if mcp_registry == "domain" and isinstance(public_host, str):
        return f"{reversed_domain(public_host)}/{service}"
    parts = image.split("/")
    owner = parts[1] if registry_host(image) == "ghcr.io" and len(parts) > 2 else "your-github-user"
    return f"io.github.{owner}/{service}"


def mcp_registry_name_error(value: Any, mcp_registry: str, public_host: Any) -> str:
    """The name the registry lists the server under, in the namespace the chosen login grants."""
    what = "NAMESPACE/NAME such as io.github.my-org/weather-mcp"
    if not isinstance(value, str) or value.count("/") != 1:
        return f"mcp_registry_name: {value!r}: expected {what}"
    namespace, name = value.split("/")
    if not _REGISTRY_NAMESPACE.fullmatch(namespace) or not _REGISTRY_NAME_PART.fullmatch(name) or len(value) > 200:
        return (
            f"mcp_registry_name: {value!r} is not a registry name (each part starts and ends with a letter or"
            f" digit; the namespace holds letters, digits, '.' and '-'; at most 200 characters); expected {what}"
        )
    if mcp_registry == "github":
        owner = namespace.removeprefix("io.github.")
        if not namespace.startswith("io.github.") or not _GITHUB_OWNER.fullmatch(owner):
            return (
                f"mcp_registry_name: {value!r}: a GitHub login publishes under io.github.OWNER/ (OWNER the"
                " repository's user or organization)"
            )
        if owner == "your-github-user":
            return "mcp_registry_name: name your GitHub user or organization in io.github.OWNER/NAME"
    if mcp_registry == "domain" and isinstance(public_host, str) and namespace != reversed_domain(public_host):
        return (
            f"mcp_registry_name: {value!r}: proving {public_host} lets you publish under"
            f" {reversed_domain(public_host)}/ only (not a parent or subdomain)"
        )
    return ""


def mcp_registry_description_error(value: Any) -> str:
    what = "one line of 1 to 100 characters saying what the server does"
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        return f"mcp_registry_description: expected {what}"
    if error := _unprintable_error("mcp_registry_description", value):
        return error
    # Template syntax would be read again by the next render of the answer; a leading '-' as an option.
    if value.startswith("-") or any(mark in value for mark in ("{{", "{%", "{#")):
        return f"mcp_registry_description: {value!r} starts with '-' or holds {{{{, {{% or {{#; expected {what}"
    return ""


def mcp_registry_key_error(value: Any) -> str:
    """An Ed25519 public key, base64 (what `p=` holds in the registry's proof)."""
    what = (
        "the base64 Ed25519 public key (44 characters), e.g. from: openssl pkey -in mcp-registry-key.pem -pubout"
        " -outform DER | tail -c 32 | base64"
    )
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9+/]{43}=", value):
        return f"mcp_registry_key: {value!r}: expected {what}"
    return ""


# --- naming helpers for copier.yml ------------------------------------------------------------


def default_image_name(destination: Any) -> str:
    """A valid image path component from the destination folder's name (`copier copy SRC .` included)."""
    name = re.sub(r"[^a-z0-9]+", "-", Path(str(destination)).resolve().name.lower()).strip("-")
    return name or "mcp-server"


def version_tuple(version: str) -> str:
    """A Python tuple literal of a version's numbers: '1.23.0' -> '(1, 23, 0)', '2' -> '(2,)'."""
    return repr(parse_version(version))


def ports_error(port: Any, https_port: Any, http_port: Any) -> str:
    """With nginx on the Docker host, the container's published port and nginx's must differ."""
    taken = {"https_port": https_port, "http_port": http_port}
    for question, value in taken.items():
        if value == port:
            return f"{question}: {value} is also the container's port (question port) on the same host; choose another"
    return ""
