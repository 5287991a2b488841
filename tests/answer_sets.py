"""The answers the tests render with: the full matrix, and what each combination must produce."""

from __future__ import annotations

import itertools

SDKS = ("mcp1-fastmcp", "mcp1-lowlevel")
TRANSPORTS = ("streamable-http", "sse")
ENV_VARS = [{"name": "API_KEY", "description": "Key for the weather API"}, "LOG_LEVEL=info", "REGION="]
EXTRA_PATHS = ["tools/", "formatting.py"]

BASE_ANSWERS = {"image": "ghcr.io/acme/weather-mcp", "public_host": "mcp.example.com", "url_prefix": "weather"}


def combinations():
    """Every SDK x transport x nginx x private deps x env vars x extra paths, with a readable id."""
    for sdk, transport, nginx, private, env, extra in itertools.product(
        SDKS, TRANSPORTS, (True, False), (True, False), (True, False), (True, False)
    ):
        answers = {
            **BASE_ANSWERS,
            "sdk": sdk,
            "transport": transport,
            "use_nginx": nginx,
            "private_deps": private,
            "env_vars": ENV_VARS if env else [],
            "extra_paths": EXTRA_PATHS if extra else [],
        }
        parts = [sdk.split("-")[1], transport, "nginx" if nginx else "direct", "private" if private else "public"]
        parts += ["env" if env else "noenv", "paths" if extra else "nopaths"]
        yield "-".join(parts), answers


def expected_files(answers: dict) -> set[str]:
    files = {
        ".copier-answers.mcp-docker.yml",
        ".dockerignore",
        ".gitignore",
        "Dockerfile",
        "DEPLOYMENT.md",
        "build-publish.sh",
        "clients/claude-code.mcp.json",
        "clients/claude-desktop.json",
        "clients/vscode.mcp.json",
        "docker-compose.yaml",
        "example.env",
        "healthcheck.py",
        "mcp_serve.py",
        "requirements.txt",
        answers.get("entry_point", "server.py"),
    }
    if answers["use_nginx"]:
        files |= {"nginx/weather-mcp.conf", "nginx/tokens.map.example"}
    return files
