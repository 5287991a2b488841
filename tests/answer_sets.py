"""The answers the tests render with: the full matrix, and what each combination must produce."""

from __future__ import annotations

import itertools
from pathlib import Path

import yaml

from extensions import answers
from extensions.lifecycle import rendered_paths

SDKS = ("mcp1-fastmcp", "mcp1-lowlevel")
TRANSPORTS = ("streamable-http", "sse")
ENV_VARS = [{"name": "API_KEY", "description": "Key for the weather API"}, "LOG_LEVEL=info", "REGION="]
EXTRA_PATHS = ["tools/", "formatting.py"]

ANSWERS_FILE = ".copier-answers.mcp-docker.yml"
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


def expected_files(project: Path) -> set[str]:
    """What a copy must write, by the same list the first-copy hook uses (extensions/lifecycle.py),
    for the answers recorded in the project."""
    recorded = yaml.safe_load((project / ANSWERS_FILE).read_text())
    context = {**recorded, **answers.derive(recorded)}
    return set(rendered_paths(context)) | {ANSWERS_FILE, ".gitignore"}
