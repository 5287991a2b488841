"""The questionnaire's own checks, run without Copier: copier.yml's validators rendered with the
template's filters (extensions/jinja_glue.py), as Copier renders them. A unit tier: thousands of
answers a second, where a Copier run per answer takes a second."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2
import yaml

from extensions.jinja_glue import AnswerFilters
from extensions.lifecycle import answer_problems

REPO_ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
JINJA = jinja2.Environment(extensions=[AnswerFilters])
# What detect.py says of a folder that holds a server already, without naming the folder: the
# validators judge the answers themselves, not what is on disk (tests/test_questionnaire.py does that).
EXISTING_PROJECT = {
    "found_server": True,
    "existing_project": True,
    "new_project": False,
    "root": "",
    "dockerfile": "Dockerfile",
}


# A valid answer to every question, with every optional part switched on.
VALID = {
    "sdk": "mcp1-fastmcp",
    "server": "server:mcp",
    "dependencies": "requirements.txt",
    "lock_policy": "refresh",
    "python_version": "3.12",
    "system_packages": ["git", "libpq5"],
    "source_paths": ["server.py", "tools/"],
    "transport": "streamable-http",
    "sessions": "stateless",
    "image": "ghcr.io/acme/weather-mcp",
    "env_vars": ["API_KEY", "UNITS=metric"],
    "port": 8000,
    "orchestrator": "compose",
    "replicas": 3,
    "use_nginx": True,
    "public_host": "mcp.example.com",
    "url_prefix": "weather",
    "https_port": 443,
    "http_port": 80,
    "ssl_certificate": "/etc/letsencrypt/live/mcp.example.com/fullchain.pem",
    "ssl_certificate_key": "/etc/letsencrypt/live/mcp.example.com/privkey.pem",
    "calls_per_second": 100,
    "auth": "tokens",  # the oauth_* answers are checked whatever auth says; renders use nginx's tokens
    "oauth_issuer": "https://tenant.eu.auth0.com/",
    "oauth_resource": "https://mcp.example.com/weather/mcp",
    "oauth_scopes": ["mcp:tools", "api://weather/read"],
    "private_deps": True,
    "private_deps_host": "github.com",
    "platform": "linux/amd64",
    "github_workflow": True,
    "mcp_registry": "github",
    "mcp_registry_name": "io.github.acme/weather-mcp",
    "mcp_registry_description": "Weather forecasts for any city",
    "mcp_registry_key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "dockerfile": "Dockerfile",
}


@functools.cache
def validator(expression: str) -> jinja2.Template:
    return JINJA.from_string(expression)


def problems(answers: dict, detected: dict = EXISTING_PROJECT) -> list[str]:
    """Every validator's message for these answers (none: all are accepted)."""

    def render(expression: str, values: dict) -> str:
        return validator(expression).render({**values, "detected": detected})

    return answer_problems(QUESTIONS, answers, render)
