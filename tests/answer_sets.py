"""The answers the tests render with, read from copier.yml's own choices.

A choice added to the questionnaire (a new SDK generation, a new dependency source) is in
the matrix the moment it is in copier.yml: it cannot go untested.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import yaml

from extensions.deployment import FRONTS, Deployment, front_for
from extensions.deployment import TRANSPORTS as TRANSPORT_ENDPOINTS
from extensions.detect import detect
from extensions.tree import rendered_kinds

REPO_ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())


def choices(question: str) -> list:
    listed = QUESTIONS[question]["choices"]
    return list(listed.values()) if isinstance(listed, dict) else list(listed)


SDKS = choices("sdk")
TRANSPORTS = choices("transport")
# Where each transport's clients connect.
ENDPOINTS = {name: path for name, (path, _) in TRANSPORT_ENDPOINTS.items()}
DEPENDENCIES = choices("dependencies")
# fastmcp.json's list and a script's inline metadata: installed as they are, like requirements.txt.
DECLARED_ONLY = ["fastmcp.json", "script"]
LOCKED_OR_LISTED = [source for source in DEPENDENCIES if source not in DECLARED_ONLY]
LOCK_POLICIES = [QUESTIONS["lock_policy"]["default"]] + [
    policy for policy in choices("lock_policy") if policy != QUESTIONS["lock_policy"]["default"]
]
ENV_VARS = [{"name": "API_KEY", "description": "Key for the weather API"}, "LOG_LEVEL=info", "REGION="]
SOURCE_PATHS = ["server.py", "tools/", "formatting.py"]
SYSTEM_PACKAGES = ["git", "jq"]

ANSWERS_FILE = ".copier-answers.mcp-docker.yml"
BASE_ANSWERS = {"image": "ghcr.io/acme/weather-mcp"}
# The public name and path, given where the front asks for them (a direct deployment asks neither).
FRONT_ANSWERS = {"public_host": "mcp.example.com", "url_prefix": "weather"}
# A bearer token made as DEPLOYMENT.md says: "Bearer $(openssl rand -hex 32)".
DOCUMENTED_TOKEN = "Bearer " + "3f9a" * 16


AUTHS = choices("auth")
DEFAULT_AUTH = QUESTIONS["auth"]["default"]
# The OAuth answers the tests use: a scope, as most providers' APIs have.
OAUTH_ANSWERS = {"oauth_issuer": "https://tenant.eu.auth0.com/", "oauth_scopes": ["mcp:tools"]}


def answer_set(
    sdk,
    transport,
    dependencies,
    nginx,
    private,
    extras,
    auth=DEFAULT_AUTH,
    orchestrator="compose",
    lock_policy=None,
    sessions=None,
) -> tuple[str, dict]:
    """The answers for one combination, with a readable id (the default auth is left out of it)."""
    front = front_for({"orchestrator": orchestrator, "use_nginx": nginx})
    chosen = {
        **BASE_ANSWERS,
        **{name: value for name, value in FRONT_ANSWERS.items() if name in front.questions},
        "sdk": sdk,
        "transport": transport,
        "dependencies": dependencies,
        "private_deps": private,
        "env_vars": ENV_VARS if extras else [],
        "source_paths": SOURCE_PATHS if extras else ["server.py"],
        "system_packages": SYSTEM_PACKAGES if extras else [],
        "auth": auth,
        "orchestrator": orchestrator,
    }
    if lock_policy:
        chosen["lock_policy"] = lock_policy
    if sessions:
        chosen["sessions"] = sessions
    if orchestrator == "compose":
        chosen["use_nginx"] = nginx  # asked only there: Swarm has its nginx, Kubernetes its Ingress
    if orchestrator in ("kubernetes", "swarm"):
        chosen["replicas"] = 3
    if auth == "oauth":
        chosen |= OAUTH_ANSWERS
        if "oauth_resource" in front.questions:
            chosen["oauth_resource"] = f"https://weather.example.com/weather{ENDPOINTS[transport]}"
    front = {"kubernetes": "k8s", "swarm": "swarm"}.get(orchestrator) or ("nginx" if nginx else "direct")
    parts = [sdk, transport, dependencies.replace(".", ""), front]
    parts += ["private" if private else "public", "extras" if extras else "plain"]
    parts += [] if auth == DEFAULT_AUTH else [f"auth{auth}"]
    parts += [f"lock{lock_policy}"] if lock_policy else []
    parts += [sessions] if sessions else []
    return "-".join(parts), chosen


def combinations():
    """The combinations rendered, read from copier.yml's choices and the fronts' table
    (extensions/deployment.py), so a new front, orchestrator or SDK generation is rendered without a
    change here. Behind each front of compose (nginx on the Docker host, or the port directly): every
    pair of SDK, transport, dependency source, private deps and extras with the default auth (each
    file depends on two of them at most: mcp_serve.py on the SDK and transport, the Dockerfile's
    install steps on the dependency source and private deps, sdk_check.py on the SDK and dependency
    source), every SDK x transport with each other auth answer (auth changes the wiring, the compose
    file, nginx and the documents, not how the image is built), and every SDK with each other lock
    policy. Behind the other fronts (a Swarm stack, an Ingress): every SDK x transport x auth, the
    files that differ by them. Behind every front, every SDK with stateful streamable-http sessions."""
    for front in FRONTS.values():
        if front.orchestrator == "compose":
            dimensions = [SDKS, TRANSPORTS, DEPENDENCIES, [True, False], [True, False]]
            # The full product with MCP_TEMPLATE_FULL_MATRIX=1 (before a release, say).
            full = os.environ.get("MCP_TEMPLATE_FULL_MATRIX")
            rows = itertools.product(*dimensions) if full else pairwise(dimensions)
            for sdk, transport, dependencies, private, extras in rows:
                yield answer_set(sdk, transport, dependencies, front.nginx, private, extras)
            for sdk, transport, auth in itertools.product(SDKS, TRANSPORTS, AUTHS):
                if auth != DEFAULT_AUTH:
                    yield answer_set(sdk, transport, "requirements.txt", front.nginx, False, front.nginx, auth)
            # The other ways a lock file is used (the default is among the rows above): the build's
            # install steps, the same whatever the transport.
            for sdk, policy in itertools.product(SDKS, LOCK_POLICIES[1:]):
                yield answer_set(sdk, TRANSPORTS[0], "uv.lock", front.nginx, False, True, lock_policy=policy)
        else:
            for sdk, transport, auth in itertools.product(SDKS, TRANSPORTS, AUTHS):
                orchestrator = front.orchestrator
                yield answer_set(sdk, transport, "requirements.txt", front.nginx, False, True, auth, orchestrator)
        for sdk in SDKS:
            yield answer_set(
                sdk,
                "streamable-http",
                "requirements.txt",
                front.nginx,
                False,
                True,
                orchestrator=front.orchestrator,
                sessions="stateful",
            )


def render_context(project: Path) -> dict:
    """What the files were rendered with, from the answers recorded in the project: the answers,
    the defaults of the questions not asked (so not recorded), and what extensions derive."""

    recorded = yaml.safe_load((project / ANSWERS_FILE).read_text())
    found = vars(detect(project, first_copy=False))
    return {**recorded, **Deployment(recorded).context(), "detected": found}


def expected_files(project: Path) -> set[str]:
    """What a copy must write, by the same list the first-copy hook uses (extensions/tree.py),
    for the answers recorded in the project."""
    import jinja2

    context = render_context(project)
    environment = jinja2.Environment()
    rendered = rendered_kinds(lambda text: environment.from_string(text).render(context))
    return set(rendered) | {ANSWERS_FILE, ".gitignore"}


def _pairs(row: tuple) -> set[tuple]:
    return {(i, row[i], j, row[j]) for i, j in itertools.combinations(range(len(row)), 2)}


def pairwise(dimensions: list[list], allowed=lambda row: True) -> list[tuple]:
    """A covering set: rows of the product in which every allowed pair of values occurs.

    Greedy and deterministic: each step takes the allowed row that covers the most pairs
    not covered yet, until none is left.
    """
    rows = [row for row in itertools.product(*dimensions) if allowed(row)]
    uncovered = set().union(*(_pairs(row) for row in rows))
    chosen = []
    while uncovered:
        best = max(rows, key=lambda row: len(_pairs(row) & uncovered))
        chosen.append(best)
        uncovered -= _pairs(best)
    return chosen


def private_deps_allowed(dependencies: str, private: bool) -> bool:
    """Private git dependencies are covered with the sources that resolve at build time; a lock
    file would have to be made against the private git host (not done in these tests)."""
    return not (private and dependencies in ("uv.lock", "poetry.lock"))


def covering_combinations():
    """A covering set of combinations for the end-to-end smoke runs: every pair of answers.

    OAuth needs an authorization server: tests/e2e/test_oauth.py runs it, on every generation.
    """
    auths = [auth for auth in AUTHS if auth != "oauth"]
    # fastmcp.json and script metadata: tests/e2e/test_real_shapes.py builds a project of each.
    dimensions = [SDKS, LOCKED_OR_LISTED, TRANSPORTS, [True, False], [True, False], [True, False], auths]
    rows = pairwise(dimensions, lambda row: private_deps_allowed(row[1], row[4]))
    for sdk, dependencies, transport, nginx, private, extras, auth in rows:
        yield answer_set(sdk, transport, dependencies, nginx, private, extras, auth)
