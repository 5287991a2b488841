"""What the questionnaire's answers may be, and what the template derives from them.

Plain functions with no Jinja and no Copier in them, so they are tested directly.
Every ``*_error`` function returns "" for a good answer, or a message that names the
question and says what is expected (Copier shows it and asks again).
"""

from __future__ import annotations

import hashlib
import keyword
import re
from pathlib import Path, PurePosixPath
from typing import Any

# --- the rules --------------------------------------------------------------------------

SDKS = {
    "mcp1-fastmcp": {
        "label": "FastMCP, mcp.server.fastmcp.FastMCP, mcp 1.x",
        "import": "from mcp.server.fastmcp import FastMCP",
        "requirement": "mcp>=1.23,<2",
        "default_object": "mcp",
    },
    "mcp1-lowlevel": {
        "label": "low-level Server, mcp.server.Server, mcp 1.x",
        "import": "from mcp.server import Server",
        "requirement": "mcp>=1.23,<2",
        "default_object": "app",
    },
}

TRANSPORTS = {
    # transport answer: (endpoint path, Claude Code / VS Code client "type")
    "streamable-http": ("/mcp", "http"),
    "sse": ("/sse", "sse"),
}

# Environment variables the template itself sets; a user variable of the same name
# would silently fight with ours.
TEMPLATE_ENV_VARS = frozenset(
    {
        "MCP_TRANSPORT",
        "MCP_HOST",
        "MCP_PORT",
        "MCP_ALLOWED_HOSTS",
        "MCP_ALLOWED_ORIGINS",
        "FORWARDED_ALLOW_IPS",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PATH",
        "HOME",
        "CR_PAT",
        "PLATFORM",
    }
)

# Module names the entry point must not take: importing it would shadow these.
RESERVED_MODULES = frozenset({"mcp", "mcp_serve", "healthcheck", "uvicorn", "starlette", "anyio", "pydantic"})

# Paths .dockerignore keeps out of the image; copying one of them would fail the build.
DOCKERIGNORED = (".git", ".venv", "tests", ".env", "VERSION", ".vscode", ".idea", "__pycache__")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_DEFAULT_FORBIDDEN = re.compile(r"[\s\"'$`{}#\\]")
_PATH_FORBIDDEN = re.compile(r"[\s*?\[\]\\\"'$;{}]")
_IMAGE_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_REGISTRY_HOST = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$"
)
_HOSTNAME_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PLATFORM = re.compile(r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$")
_SERVER_PATH_FORBIDDEN = re.compile(r"[\s;{}\"'$#\\]")


def _relative_path_error(question: str, value: Any, *, what: str) -> str:
    """Shared rules for a path inside the project: relative, no '..', nothing Docker's COPY trips on."""
    if not isinstance(value, str) or not value.strip():
        return f"{question}: expected {what}, got an empty answer"
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        return f"{question}: {value!r} is absolute; expected {what} relative to the project root"
    parts = PurePosixPath(value).parts
    if ".." in parts:
        return f"{question}: {value!r} leaves the project ('..'); expected {what} inside it"
    if _PATH_FORBIDDEN.search(value):
        return f"{question}: {value!r} contains spaces, quotes or wildcards; expected a plain path"
    return ""


def entry_point_error(value: Any) -> str:
    """The entry point: a relative .py file whose name is importable and shadows nothing."""
    what = "a .py file such as server.py or src/server.py"
    if error := _relative_path_error("entry_point", value, what=what):
        return error
    path = PurePosixPath(value)
    if path.suffix != ".py":
        return f"entry_point: {value!r} is not a .py file; expected {what}"
    if not path.stem.isidentifier() or keyword.iskeyword(path.stem):
        return f"entry_point: {path.name!r} is not an importable module name; expected letters, digits and '_'"
    if path.stem in RESERVED_MODULES:
        return f"entry_point: a file named {path.name!r} would shadow the {path.stem!r} module; rename it"
    if path.parts[0] in DOCKERIGNORED:
        return f"entry_point: {value!r} is under {path.parts[0]}/, which .dockerignore keeps out of the image"
    return ""


def server_object_error(value: Any) -> str:
    if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
        return f"server_object: {value!r} is not a Python variable name; expected e.g. mcp or app"
    return ""


def normalize_extra_path(value: str) -> str:
    """'tools/' and './tools' both mean 'tools' to Docker's COPY."""
    return str(PurePosixPath(value))


def extra_paths_error(value: Any, entry_point: str = "") -> str:
    if value is None:
        return ""
    if not isinstance(value, list):
        return "extra_paths: expected a YAML list of relative paths, e.g. [tools/, formatting.py]"
    seen: set[str] = set()
    for item in value:
        if error := _relative_path_error("extra_paths", item, what="a file or folder"):
            return error
        path = normalize_extra_path(item)
        if path == ".":
            return "extra_paths: '.' would copy the whole project; list the files and folders the server needs"
        if path == entry_point:
            return f"extra_paths: {item!r} is the entry point, which is always copied; leave it out"
        if PurePosixPath(path).parts[0] in DOCKERIGNORED:
            return f"extra_paths: {item!r} is kept out of the image by .dockerignore; expected a path the server needs"
        if path in seen:
            return f"extra_paths: {item!r} is listed twice"
        seen.add(path)
    return ""


def parse_env_var(item: Any) -> dict[str, str | None]:
    """One env_vars item, in any of its three forms, as {name, default, description}."""
    if isinstance(item, dict):
        default = item.get("default")
        return {
            "name": str(item.get("name", "")),
            "default": None if default is None else str(default),
            "description": str(item.get("description") or ""),
        }
    name, sep, default = str(item).partition("=")
    return {"name": name.strip(), "default": default.strip() if sep else None, "description": ""}


def env_vars_error(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, list):
        return "env_vars: expected a YAML list, e.g. [API_KEY, LOG_LEVEL=info]"
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, (str, dict)):
            return f"env_vars: {item!r} is neither NAME, NAME=default nor {{name: ..., default: ..., description: ...}}"
        var = parse_env_var(item)
        name = var["name"]
        if not _ENV_NAME.match(name or ""):
            return (
                f"env_vars: {name!r} is not a valid variable name; "
                "expected letters, digits and '_', not starting with a digit"
            )
        if name.upper() in TEMPLATE_ENV_VARS:
            return f"env_vars: {name} is set by the template itself; choose another name"
        if name in seen:
            return f"env_vars: {name} is listed twice"
        seen.add(name)
        if var["default"] and _ENV_DEFAULT_FORBIDDEN.search(var["default"]):
            return f"env_vars: the default of {name} may not contain spaces, quotes, $, {{, }}, # or backslashes"
        if "\n" in (var["description"] or ""):
            return f"env_vars: the description of {name} must be one line"
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
        if not _REGISTRY_HOST.match(registry) or not path:
            return f"image: {value!r} does not name a repository on {registry}; expected {what}"
    if ":" in path[-1]:
        return f"image: {value!r} has a tag; build-publish.sh adds the tags, so expected {what}"
    for component in path:
        if not _IMAGE_COMPONENT.match(component):
            return f"image: {component!r} is not a valid path component; expected {what}"
    return ""


def hostname_error(value: Any, question: str, allow_port: bool = False) -> str:
    port_words = "with an optional :port" if allow_port else "no port"
    what = f"a host name such as mcp.example.com (no scheme, no path, {port_words})"
    if not isinstance(value, str) or not value:
        return f"{question}: expected {what}"
    host, _, port = value.partition(":") if allow_port else (value, "", "")
    if "://" in value or "/" in value or ":" in host or (port and not port.isdigit()):
        return f"{question}: {value!r} is not a bare host name; expected {what}"
    if port and port_error(int(port), question):
        return port_error(int(port), question)
    if len(host) > 253 or not all(_HOSTNAME_LABEL.match(label) for label in host.split(".")):
        return f"{question}: {value!r} is not a valid lowercase host name; expected {what}"
    return ""


def url_prefix_error(value: Any) -> str:
    what = "a path such as my-mcp or tools/my-mcp"
    prefix = clean_prefix(value) if isinstance(value, str) else ""
    if not prefix:
        return f"url_prefix: expected {what}; the server needs a path of its own behind nginx"
    segments = prefix.split("/")
    if segments[0] == ".well-known":
        return "url_prefix: .well-known is reserved for discovery documents; expected another path"
    if not all(_PREFIX_SEGMENT.match(segment) for segment in segments):
        return f"url_prefix: {value!r} has characters a URL path cannot carry plainly; expected {what}"
    return ""


def port_error(value: Any, question: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return f"{question}: {value!r} is not a port; expected a whole number from 1 to 65535"
    return ""


def server_path_error(value: Any, question: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        return f"{question}: {value!r} is not an absolute path on the nginx host; expected e.g. /etc/..."
    if _SERVER_PATH_FORBIDDEN.search(value):
        return f"{question}: {value!r} contains spaces, quotes or ';'; expected a plain absolute path"
    return ""


def platform_error(value: Any) -> str:
    if not isinstance(value, str) or not _PLATFORM.match(value):
        return f"platform: {value!r} is not a platform; expected os/arch such as linux/amd64 or linux/arm64"
    return ""


# --- what is derived ---------------------------------------------------------------------


def clean_prefix(value: str) -> str:
    return value.strip().strip("/")


def registry_host(image: str) -> str:
    """The registry an image reference points at: its first component when that is a host."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def image_basename(image: str) -> str:
    return image.rsplit("/", 1)[-1]


def default_image_name(destination: Any) -> str:
    """A valid image path component from the destination folder's name (`copier copy SRC .` included)."""
    name = re.sub(r"[^a-z0-9]+", "-", Path(str(destination)).resolve().name.lower()).strip("-")
    return name or "mcp-server"


def nginx_identifier(identifier: str) -> str:
    """A short name for nginx variables, upstreams and zones.

    nginx refuses variable names that overflow variables_hash_bucket_size (64 by default), so a
    long name is cut and made unique again with a hash of the whole.
    """
    if len(identifier) <= 24:
        return identifier
    return f"{identifier[:17]}_{hashlib.sha256(identifier.encode()).hexdigest()[:6]}"


def derive(answers: dict[str, Any]) -> dict[str, Any]:
    """Everything the files need beyond the answers themselves, computed in one place."""
    image = answers["image"]
    service = image_basename(image)
    endpoint, client_type = TRANSPORTS[answers["transport"]]
    entry = PurePosixPath(answers["entry_point"])
    # For names that allow only letters, digits and '_' (nginx variables, env vars).
    identifier = re.sub(r"[^A-Za-z0-9]+", "_", service).strip("_")
    derived: dict[str, Any] = {
        "service_name": service,
        "container_name": service,
        "service_identifier": identifier,
        "nginx_id": nginx_identifier(identifier),
        "registry_host": registry_host(image),
        "sdk_label": SDKS[answers["sdk"]]["label"],
        "mcp_requirement": SDKS[answers["sdk"]]["requirement"],
        "entry_module": entry.stem,
        "endpoint_path": endpoint,
        "client_type": client_type,
        "token_env_var": re.sub(r"(_MCP)?$", "_MCP_TOKEN", identifier.upper(), count=1),
        "app_env": [parse_env_var(item) for item in answers.get("env_vars") or []],
        "copy_paths": [normalize_extra_path(path) for path in answers.get("extra_paths") or []],
    }
    if answers.get("use_nginx"):
        host = answers["public_host"]
        prefix = clean_prefix(answers["url_prefix"])
        port = answers["https_port"]
        authority = host if port == 443 else f"{host}:{port}"
        derived |= {
            "url_prefix_clean": prefix,
            "public_base_url": f"https://{authority}/{prefix}",
            # The Host header nginx forwards ($host, no port) and direct calls on the Docker host.
            "allowed_hosts": f"{host},{host}:*,localhost,localhost:*,127.0.0.1,127.0.0.1:*",
            "allowed_origins": f"https://{authority}",
        }
    else:
        derived |= {
            "public_base_url": f"http://localhost:{answers['port']}",
            # Without a proxy the server is reached under whatever name the host has; like the
            # SDK itself when bound to 0.0.0.0, leave the Host check off (DEPLOYMENT.md says how to set it).
            "allowed_hosts": "*",
            "allowed_origins": "",
        }
    derived["public_url"] = derived["public_base_url"] + endpoint
    if answers.get("private_deps"):
        host = answers["private_deps_host"]
        # GitLab wants the user name oauth2 with a token; GitHub accepts x-access-token for PATs and app tokens.
        derived["git_token_user"] = "oauth2" if "gitlab" in host else "x-access-token"
    return derived
