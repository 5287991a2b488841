"""The rendered tree, read from template/ itself, and what a change to each file asks of the user.

The first-copy check (which files a copy writes), the update report (what to do next) and the
tests all take the file list from here, so a file added to template/ cannot be missed by any of
them: a template file without an entry in AFTER_CHANGE fails the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path, PurePosixPath

TEMPLATE = Path(__file__).resolve().parent.parent / "template"
PARTIALS = "_partials"
ANSWERS_FILE_TEMPLATE = "{{ _copier_conf.answers_file }}.jinja"

# What to do after an update changed a file, by kind of file.
NEXT_STEPS = {
    "image": "The image changed: ./build-publish.sh, then `docker compose pull && docker compose up -d`.",
    "compose": (
        "The compose file or example.env changed: compare example.env with your .env, then `docker compose up -d`."
    ),
    "nginx": (
        "The nginx configuration changed: copy {files} to /etc/nginx/conf.d/ on the proxy host, "
        "then `sudo nginx -t && sudo systemctl reload nginx`."
    ),
    "clients": "The client configuration changed: update every client of this server (see DEPLOYMENT.md).",
    "kubernetes": "The Kubernetes manifests changed: `kubectl apply -f k8s/` (pods are replaced one at a time).",
    "swarm": "The Swarm stack or its nginx changed ({files}): ./deploy-stack.sh on a manager.",
    "publish": "build-publish.sh changed: nothing to do until the next release you publish with it.",
    "docs": "DEPLOYMENT.md changed: it describes the deployment as it is now.",
    "check": "check_deployment.py changed: run it against the deployment once more.",
    "ci": (
        "The GitHub workflow or Renovate's configuration changed ({files}): commit and push; "
        "the next pull request runs it."
    ),
    "registry": (
        "server.json changed: the MCP Registry lists it from the next version you publish "
        '(DEPLOYMENT.md, "Registries").'
    ),
}

# Every file under template/ (its path there) and the kind of change it is.
AFTER_CHANGE = {
    "{{ dockerfile }}.jinja": "image",
    "{{ dockerignore_file }}.jinja": "image",
    "mcp_serve.py.jinja": "image",
    "mcp_auth.py.jinja": "image",
    "mcp_sessions.py": "image",
    "mcp_observe.py": "image",
    "sdk_check.py.jinja": "image",
    "healthcheck.py": "image",
    "docker-compose.yaml.jinja": "compose",
    "example.env.jinja": "compose",
    "{% if front.nginx %}nginx{% endif %}/{{ service_name }}.conf.jinja": "nginx",
    "clients/claude-code.mcp.json.jinja": "clients",
    "clients/claude-desktop.json.jinja": "clients",
    "clients/vscode.mcp.json.jinja": "clients",
    "clients/cursor.mcp.json.jinja": "clients",
    "clients/windsurf.mcp_config.json.jinja": "clients",
    "clients/{% if transport == 'streamable-http' %}codex.config.toml{% endif %}.jinja": "clients",
    "clients/gemini.settings.json.jinja": "clients",
    "clients/zed.settings.json.jinja": "clients",
    "clients/{% if transport == 'streamable-http' %}goose.config.yaml{% endif %}.jinja": "clients",
    "clients/{% if auth != 'oauth' %}continue.config.yaml{% endif %}.jinja": "clients",
    "clients/cline_mcp_settings.json.jinja": "clients",
    "clients/librechat.yaml.jinja": "clients",
    "{% if orchestrator == 'kubernetes' %}k8s{% endif %}/deployment.yaml.jinja": "kubernetes",
    "{% if orchestrator == 'kubernetes' %}k8s{% endif %}/service.yaml.jinja": "kubernetes",
    "{% if orchestrator == 'kubernetes' %}k8s{% endif %}/ingress.yaml.jinja": "kubernetes",
    "{% if orchestrator == 'kubernetes' %}k8s{% endif %}/pdb.yaml.jinja": "kubernetes",
    "{% if orchestrator == 'swarm' %}docker-stack.yaml{% endif %}.jinja": "swarm",
    "{% if orchestrator == 'swarm' %}deploy-stack.sh{% endif %}.jinja": "swarm",
    "build-publish.sh.jinja": "publish",
    "DEPLOYMENT.md.jinja": "docs",
    "check_deployment.py.jinja": "check",
    "{% if github_workflow %}.github{% endif %}/workflows/mcp-image.yml.jinja": "ci",
    "{% if github_workflow and not detected.renovate_config %}renovate.json{% endif %}": "ci",
    "{% if mcp_registry in ('github', 'domain') %}server.json{% endif %}.jinja": "registry",
}


def template_files() -> list[str]:
    """The files under template/ that a copy renders (the answers file and the partials aside)."""
    return sorted(
        path.relative_to(TEMPLATE).as_posix()
        for path in TEMPLATE.rglob("*")
        if path.is_file()
        and PARTIALS not in path.relative_to(TEMPLATE).parts
        and path.name != ANSWERS_FILE_TEMPLATE
        and "__pycache__" not in path.parts
    )


def rendered_name(template_path: str, render: Callable[[str], str]) -> str:
    """The path a template file is written to ('' when a part renders to nothing: not written).

    As Copier does, the .jinja suffix comes off before the name is rendered."""
    parts = [render(part) for part in PurePosixPath(template_path.removesuffix(".jinja")).parts]
    if not all(parts):
        return ""
    return str(PurePosixPath(*parts))


def rendered_kinds(render: Callable[[str], str]) -> dict[str, str]:
    """{rendered path: kind of change} for the files a copy with these answers writes."""
    rendered = {}
    for template_path in template_files():
        name = rendered_name(template_path, render)
        if name:
            rendered[name] = AFTER_CHANGE.get(template_path, "")
    if render("{{ orchestrator }}") == "swarm":
        # The stack's nginx takes its configuration from deploy-stack.sh, not from /etc/nginx.
        rendered = {name: "swarm" if kind == "nginx" else kind for name, kind in rendered.items()}
    return rendered
