"""Every combination of answers renders, and every rendered file passes its ecosystem's checks."""

from __future__ import annotations

import os
import re

import linters
import pytest
import yaml
from answer_sets import combinations, expected_files
from conftest import render

COMBINATIONS = list(combinations())


@pytest.mark.parametrize("answers", [a for _, a in COMBINATIONS], ids=[i for i, _ in COMBINATIONS])
def test_combination(copie, nginx_assets, tmp_path, answers):
    if answers["use_nginx"]:
        answers = {**answers, **nginx_assets}
    project = render(copie, **answers)

    rendered = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    assert rendered == expected_files(project)
    assert ("nginx/weather-mcp.conf" in rendered) == answers["use_nginx"]
    assert "server.py" in rendered and "mcp_serve.py" in rendered
    assert os.access(project / "build-publish.sh", os.X_OK)

    linters.hadolint(project / "Dockerfile")
    linters.shellcheck(project / "build-publish.sh")
    linters.compose_schema(project / "docker-compose.yaml")
    linters.ruff(project)
    assert linters.compile_python(project)
    for client_file in (project / "clients").iterdir():
        linters.parse_json(client_file)
    if answers["use_nginx"]:
        assert "test is successful" in linters.nginx_test(project / "nginx/weather-mcp.conf", tmp_path / "nginx")

    check_consistency(project, answers)


def check_consistency(project, answers):
    """The files agree with each other and with the answers."""
    dockerfile = (project / "Dockerfile").read_text()
    compose = yaml.safe_load((project / "docker-compose.yaml").read_text())
    service = compose["services"]["weather-mcp"]
    env = service["environment"]
    claude = linters.parse_json(project / "clients/claude-code.mcp.json")["mcpServers"]["weather-mcp"]
    endpoint = "/mcp" if answers["transport"] == "streamable-http" else "/sse"

    assert f"MCP_TRANSPORT={answers['transport']}" in dockerfile
    assert env["MCP_TRANSPORT"] == answers["transport"] and env["MCP_HOST"] == "0.0.0.0"
    assert "FASTMCP_" not in dockerfile + (project / "docker-compose.yaml").read_text()
    assert service["image"] == "ghcr.io/acme/weather-mcp:latest"
    assert service["restart"] == "unless-stopped"
    assert claude["type"] == ("http" if answers["transport"] == "streamable-http" else "sse")
    assert claude["url"].endswith(endpoint)

    # Every app variable reaches the container and is documented in example.env.
    example_env = (project / "example.env").read_text()
    for item in answers["env_vars"]:
        name = item["name"] if isinstance(item, dict) else item.split("=")[0]
        assert name in env
        assert re.search(rf"^{name}=", example_env, re.MULTILINE)

    for path in answers["extra_paths"]:
        path = path.rstrip("/")
        assert f"COPY {path} {path}\n" in dockerfile

    if answers["private_deps"]:
        assert "--mount=type=secret,id=cr_pat" in dockerfile
        assert "ARG CR_PAT" not in dockerfile and "CR_PAT" not in dockerfile.replace("id=cr_pat", "")
        assert "--secret id=cr_pat,env=CR_PAT" in (project / "build-publish.sh").read_text()
    else:
        assert "secret" not in dockerfile and "git" not in dockerfile

    if answers["use_nginx"]:
        nginx = (project / "nginx/weather-mcp.conf").read_text()
        assert service["ports"] == ["127.0.0.1:8000:8000"]
        assert claude["url"] == f"https://mcp.example.com/weather{endpoint}"
        assert claude["headers"]["Authorization"] == "Bearer ${WEATHER_MCP_TOKEN}"
        assert "mcp.example.com" in env["MCP_ALLOWED_HOSTS"].split(",")
        assert "location /weather/ {" in nginx and "proxy_buffering off;" in nginx
        assert "X-Forwarded-Prefix /weather;" in nginx
    else:
        assert service["ports"] == ["8000:8000"]
        assert claude["url"] == f"http://localhost:8000{endpoint}"
        assert "headers" not in claude


def test_long_service_name_still_passes_nginx(copie, nginx_assets, tmp_path):
    """nginx limits variable names (variables_hash_bucket_size); a long image name must not break the config."""
    long_name = "a-very-long-model-context-protocol-server-name-for-the-weather-service"
    project = render(copie, image=f"ghcr.io/acme/{long_name}", **nginx_assets)
    assert "test is successful" in linters.nginx_test(project / f"nginx/{long_name}.conf", tmp_path / "nginx")
