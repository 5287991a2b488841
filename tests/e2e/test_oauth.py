"""OAuth resource-server mode (auth=oauth) on real components.

A real authorization server (oidc-provider, tests/e2e/authorization_server.py), the rendered image
built and run by its compose file on the real engine, nginx with TLS where it is in front, and the mcp
SDK's own OAuth client running the whole flow: the 401 and its resource_metadata, the Protected
Resource Metadata (RFC 9728), the authorization server's metadata, dynamic client registration,
authorization code with PKCE (login and consent filled in), a token for the resource (RFC 8707), the
call. Then every kind of bad token, each refused with its status, and none reaching the tool
(tests/tool_calls.py counts the tool's runs in the container's log).

Every generation runs the same flow outside Docker (its SDK in a virtual environment): the credential
check sits in mcp_serve.py's wiring, which differs per generation.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import hmac
import json
import math
import re
import secrets
import subprocess
import time
from pathlib import Path

import httpx
import jwt
import pytest
import tool_calls
from answer_sets import ENDPOINTS, TRANSPORTS
from conftest import render
from fixture_repos import apply_template
from mcp_probe import MCP_HEADERS, TOOLS_CALL, list_and_call, raw_tools_call
from pytest_copie.plugin import Copie
from sdk_envs import sdk_python, sdk_versions
from served_project import serving

from extensions.deployment import REFUSALS_BURST, REFUSALS_PER_SECOND
from extensions.generations import GENERATIONS

from .authorization_server import AuthorizationServer, authorization_server
from .base_image import base_trusting
from .certs import TlsCerts, make_certs
from .deployment import URL_PREFIX, Deployment, nginx_answers, port_answers, unique_image
from .oauth_client import oauth_client
from .ports import free_port

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
NEWEST = {version.sdk: version for version in sdk_versions()}
SCOPE = "mcp:tools"
OTHER_RESOURCE = "https://other.example.com/mcp"
JWT_RESOURCE = "https://jwt.example.com/mcp"


def resources(resource: str, token_format: str = "jwt") -> dict:
    """The server's resource and another one, both with the scope the server requires (and a third,
    whose tokens are always JWTs)."""
    return {
        resource: {"scopes": [SCOPE], "format": token_format},
        OTHER_RESOURCE: {"scopes": [SCOPE], "format": token_format},
        JWT_RESOURCE: {"scopes": [SCOPE], "format": "jwt"},
    }


def b64(data: dict | bytes) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hs256(claims: dict, secret: bytes, kid: str) -> str:
    """A JWT signed with HMAC-SHA256 (made by hand: PyJWT itself refuses a JWK as an HMAC secret)."""
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{b64(claims)}"
    return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def bad_tokens(auth: AuthorizationServer, other_issuer: AuthorizationServer, resource: str) -> dict[str, tuple]:
    """(token, the status it must get) for every kind of token the server must refuse."""
    valid = auth.client_credentials_token(resource, SCOPE)
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    public_key = httpx.get(auth.jwks_uri, verify=auth.verify).json()["keys"][0]
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    return {
        "wrong issuer": (other_issuer.client_credentials_token(resource, SCOPE), 401),
        "another resource": (auth.client_credentials_token(OTHER_RESOURCE, SCOPE), 401),
        "an ID token": (auth.authorization_code_tokens(resource)["id_token"], 401),
        "bad signature": (f"{header}.{payload}.{flipped}", 401),
        "alg none": (f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}.", 401),
        # HS256 with the issuer's public key as the secret: the classic key-confusion forgery.
        "HS256 with the public key": (hs256(claims, json.dumps(public_key).encode(), public_key["kid"]), 401),
        "claims edited": (f"{header}.{b64({**claims, 'scope': SCOPE + ' admin'})}.{signature}", 401),
        "not a JWT": ("opaque-" + valid[-20:], 401),
        "missing scope": (auth.client_credentials_token(resource, ""), 403),
    }


def post(url: str, token: str | None, **kwargs) -> httpx.Response:
    return raw_tools_call(url, f"Bearer {token}" if token else None, **kwargs)


def full_flow(auth: AuthorizationServer, url: str, transport: str, **kwargs) -> dict:
    """The mcp SDK's OAuth client from the first 401 to tools/list and tools/call; what it saw."""
    provider, seen, storage = oauth_client(auth, url)
    assert list_and_call(url, transport, auth=provider, **kwargs) == (["add"], "5")
    token = storage.tokens.access_token
    seen["claims"] = jwt.decode(token, options={"verify_signature": False}) if token.count(".") == 2 else {}
    seen["token"] = token
    return seen


def check_refusals(url: str, auth, other_issuer, resource: str, metadata_url: str, **kwargs) -> int:
    """Every bad token refused with its status and an RFC 6750 / RFC 9728 challenge; returns how many."""
    bad = bad_tokens(auth, other_issuer, resource)
    expired = auth.client_credentials_token(resource, SCOPE, ttl=1)
    time.sleep(7)  # the token's second, and the server's 5 s of allowed clock skew
    bad["expired"] = (expired, 401)
    for name, (token, status) in bad.items():
        response = post(url, token, **kwargs)
        assert response.status_code == status, f"{name}: {response.status_code} {response.text}"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge, name
        assert f'scope="{SCOPE}"' in challenge, name
        expected_error = "insufficient_scope" if status == 403 else "invalid_token"
        assert f'error="{expected_error}"' in challenge and response.json()["error"] == expected_error, name
    # No token at all: 401 with where to get one, and no error code (RFC 6750 section 3.1).
    bare = post(url, None, **kwargs)
    assert bare.status_code == 401 and "error=" not in bare.headers["WWW-Authenticate"]
    assert f'resource_metadata="{metadata_url}"' in bare.headers["WWW-Authenticate"]
    # A valid token in the query string counts for nothing.
    valid = auth.client_credentials_token(resource, SCOPE)
    assert post(f"{url}?access_token={valid}", None, **kwargs).status_code == 401
    return len(bad) + 2


def check_metadata(metadata_url: str, auth: AuthorizationServer, resource: str, **kwargs) -> None:
    document = httpx.get(metadata_url, timeout=10, **kwargs).json()
    assert document["resource"] == resource
    assert document["authorization_servers"] == [auth.issuer]
    assert document["scopes_supported"] == [SCOPE]
    assert document["bearer_methods_supported"] == ["header"]


@pytest.fixture(scope="module")
def issuer_tls(docker_engine, tmp_path_factory) -> TlsCerts:
    """A test CA and a certificate for this machine's address on the Docker bridge (where the containers
    reach the authorization server, served over HTTPS as a real issuer is), localhost and 127.0.0.1."""
    options = '{{index .Options "com.docker.network.bridge.name"}}'
    bridge = docker_engine.docker("network", "inspect", "bridge", "--format", options).strip() or "docker0"
    addresses = subprocess.run(["ip", "-4", "-o", "addr", "show", bridge], capture_output=True, text=True).stdout
    found = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", addresses)
    assert found, f"no IPv4 address on the Docker bridge {bridge}: {addresses!r}"
    return make_certs(tmp_path_factory.mktemp("issuer-tls"), ("localhost", "127.0.0.1", found.group(1)))


@pytest.fixture(scope="module")
def trusting_build_flags(docker_engine, base_image, docker_build_flags, issuer_tls, tmp_path_factory):
    """docker build flags for a base that trusts the test CA, as a real base trusts a real issuer's."""
    tag = base_trusting(docker_engine, base_image, issuer_tls.ca_bundle, tmp_path_factory.mktemp("issuer-ca"))
    yield [flag if not flag.startswith("PYTHON_IMAGE=") else f"PYTHON_IMAGE={tag}" for flag in docker_build_flags]
    docker_engine.docker.run(["image", "rm", "-f", tag], retcode=None)


@contextlib.contextmanager
def issuers(resource: str, issuer_tls: TlsCerts, token_format: str = "jwt"):
    """The authorization server, and another one (for tokens from the wrong issuer), over HTTPS on the
    Docker bridge's address."""
    host = issuer_tls.names[-1]
    with (
        authorization_server(resources(resource, token_format), issuer_host=host, tls=issuer_tls) as auth,
        authorization_server(resources(resource, token_format), issuer_host=host, tls=issuer_tls) as other,
    ):
        yield auth, other


@pytest.fixture
def oauth_deployment(tmp_path, docker_engine, trusting_build_flags, issuer_tls):
    """A new project (the example server, its tool counted) with auth=oauth, built and started."""
    started = []

    def deploy(auth: AuthorizationServer, transport: str, nginx: bool, resource: str, ports: dict) -> Deployment:
        repo = tmp_path / "repo"
        repo.mkdir()
        answers = {
            "image": unique_image(f"oauth-{transport}-{'nginx' if nginx else 'direct'}"),
            "transport": transport,
            "use_nginx": nginx,
            "auth": "oauth",
            "oauth_issuer": auth.issuer,
            "oauth_scopes": [SCOPE],
            **ports,
        }
        if nginx:
            answers |= nginx_answers(issuer_tls)
        else:
            answers["oauth_resource"] = resource
        apply_template(repo, **answers)
        tool_calls.instrument(repo / "server.py")
        deployment = Deployment(None, repo, answers, docker_engine, {})
        started.append(deployment)
        deployment.build(trusting_build_flags)
        deployment.compose_up()
        deployment.wait_serving()
        if nginx:
            deployment.start_nginx(tmp_path / "nginx")
        return deployment

    yield deploy
    for deployment in started:
        deployment.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_oauth_directly_in_the_container(oauth_deployment, issuer_tls, transport):
    ports = port_answers(False)
    resource = f"http://127.0.0.1:{ports['port']}{ENDPOINTS[transport]}"
    metadata_url = f"http://127.0.0.1:{ports['port']}/.well-known/oauth-protected-resource{ENDPOINTS[transport]}"
    verify = {"verify": issuer_tls.ssl_context()}
    with issuers(resource, issuer_tls) as (auth, other_issuer):
        deployment = oauth_deployment(auth, transport, False, resource, ports)
        assert f"auth: OAuth access tokens from {auth.issuer} for {resource} (JWTs, scopes {SCOPE})" in (
            deployment.logs()
        )
        check_metadata(metadata_url, auth, resource)
        seen = full_flow(auth, deployment.direct_url, transport, **verify)
        assert seen["claims"]["aud"] == resource and SCOPE in seen["claims"]["scope"].split()
        assert "resource=" in seen["authorization_url"] and "code_challenge_method=S256" in seen["authorization_url"]
        assert httpx.get(f"http://127.0.0.1:{ports['port']}/healthz").status_code == 200

        # Refused before any route is looked at: the same statuses on either transport's app.
        refused = check_refusals(f"http://127.0.0.1:{ports['port']}/mcp", auth, other_issuer, resource, metadata_url)
        log = deployment.logs()
        assert tool_calls.count(log) == 1, f"{refused} refused requests; the tool ran {tool_calls.count(log)} times"
        assert seen["token"] not in log


def test_oauth_through_nginx_with_tls(oauth_deployment, issuer_tls):
    ports = port_answers(True)
    public_base = f"https://localhost:{ports['https_port']}"
    resource = f"{public_base}/{URL_PREFIX}/mcp"
    metadata_url = f"{public_base}/.well-known/oauth-protected-resource/{URL_PREFIX}/mcp"
    verify = {"verify": issuer_tls.ssl_context()}
    with issuers(resource, issuer_tls) as (auth, other_issuer):
        deployment = oauth_deployment(auth, "streamable-http", True, resource, ports)
        # The metadata is served through nginx, without a token; the client finds it from the 401.
        check_metadata(metadata_url, auth, resource, **verify)
        seen = full_flow(auth, deployment.proxied_url, "streamable-http", **verify)
        assert seen["claims"]["aud"] == resource
        refused = check_refusals(deployment.proxied_url, auth, other_issuer, resource, metadata_url, **verify)
        # Other discovery paths stay 404 at nginx: they are the authorization server's, not this host's.
        assert httpx.get(f"{public_base}/.well-known/openid-configuration", **verify).status_code == 404
        log = deployment.logs()
        assert tool_calls.count(log) == 1, f"{refused} refused requests; the tool ran {tool_calls.count(log)} times"


def test_opaque_tokens_by_introspection(oauth_deployment, issuer_tls):
    """A provider issuing opaque tokens: the server asks it (RFC 7662) with its own client credentials."""
    ports = port_answers(False)
    resource = f"http://127.0.0.1:{ports['port']}/mcp"
    verify = {"verify": issuer_tls.ssl_context()}
    with issuers(resource, issuer_tls, "opaque") as (auth, other_issuer):
        deployment = oauth_deployment(auth, "streamable-http", False, resource, ports)
        deployment.compose_up(
            MCP_OAUTH_INTROSPECTION_URL=auth.introspection_endpoint,
            MCP_OAUTH_CLIENT_ID=auth.introspection_client_id,
            MCP_OAUTH_CLIENT_SECRET=auth.introspection_client_secret,
        )
        deployment.wait_serving()
        assert "(introspection at " in deployment.logs()
        seen = full_flow(auth, deployment.direct_url, "streamable-http", **verify)
        assert seen["token"].count(".") == 0  # opaque
        expired = auth.client_credentials_token(resource, SCOPE, ttl=1)
        statuses = {
            "valid": (auth.client_credentials_token(resource, SCOPE), 200),
            "another resource": (auth.client_credentials_token(OTHER_RESOURCE, SCOPE), 401),
            "wrong issuer": (other_issuer.client_credentials_token(resource, SCOPE), 401),
            "missing scope": (auth.client_credentials_token(resource, ""), 403),
            "made up": ("x" * 43, 401),
            # A JWT, which this provider will not introspect (400 unsupported_token_type): refused, not a 503.
            "a JWT for another resource": (auth.client_credentials_token(JWT_RESOURCE, SCOPE), 401),
        }
        time.sleep(7)
        statuses["expired"] = (expired, 401)
        for name, (token, status) in statuses.items():
            assert post(deployment.direct_url, token).status_code == status, name
        assert tool_calls.count(deployment.logs()) == 2


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("oauth"), config_file=None)
    rendered = {}
    for sdk in GENERATIONS:
        project = render(copie, sdk=sdk, use_nginx=False, auth="oauth", oauth_resource="https://mcp.example.com/mcp")
        tool_calls.instrument(project / "server.py")
        rendered[sdk] = project
    return rendered


@pytest.mark.parametrize("sdk", GENERATIONS)
def test_every_generation_is_a_resource_server(projects, sdk):
    port = port_answers(False)["port"]
    resource = f"http://127.0.0.1:{port}/mcp"
    with (
        authorization_server(resources(resource)) as auth,
        authorization_server(resources(resource)) as other_issuer,
    ):
        env = {
            "MCP_AUTH": "oauth",
            "MCP_SERVE_PORT": str(port),
            "MCP_OAUTH_ISSUER": auth.issuer,
            "MCP_OAUTH_RESOURCE": resource,
            "MCP_OAUTH_SCOPES": SCOPE,
        }
        with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), **env) as base:
            metadata_url = f"{base}/.well-known/oauth-protected-resource/mcp"
            full_flow(auth, resource, "streamable-http")
            check_refusals(resource, auth, other_issuer, resource, metadata_url)
        assert tool_calls.count((projects[sdk] / "serve.log").read_text()) == 1


def oauth_environment(port: int, issuer: str, resource: str, **more: str) -> dict:
    return {
        "MCP_AUTH": "oauth",
        "MCP_SERVE_PORT": str(port),
        "MCP_OAUTH_ISSUER": issuer,
        "MCP_OAUTH_RESOURCE": resource,
        "MCP_OAUTH_SCOPES": SCOPE,
        **more,
    }


def test_a_key_removed_at_the_issuer_is_refused_within_the_keys_max_age(projects):
    """The issuer restarts with a new signing key and without the old one (a key rotated out): a token
    signed with the old key is refused once the server's keys are older than MCP_OAUTH_KEYS_MAX_AGE
    (300 s by default, 5 s here), and a token signed with the new key is taken."""
    sdk, keys_max_age = "mcp1-fastmcp", 5
    port = port_answers(False)["port"]
    resource = f"http://127.0.0.1:{port}/mcp"
    issuer_port = free_port()
    issuer = f"http://127.0.0.1:{issuer_port}"
    env = oauth_environment(port, issuer, resource, MCP_OAUTH_KEYS_MAX_AGE=str(keys_max_age))
    with contextlib.ExitStack() as first_issuer:
        first = first_issuer.enter_context(authorization_server(resources(resource), port=issuer_port))
        with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), **env):
            old_token = first.client_credentials_token(resource, SCOPE)
            assert post(resource, old_token).status_code == 200  # the server fetches the first key now
            fetched = time.monotonic()
            first_issuer.close()  # the issuer stops, and comes back with another key
            with authorization_server(resources(resource), port=issuer_port) as second:
                new_token = second.client_credentials_token(resource, SCOPE)
                assert jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
                while post(resource, old_token).status_code == 200:
                    assert time.monotonic() - fetched < keys_max_age + 2, "the removed key is still taken"
                    time.sleep(0.25)
                refused_after = time.monotonic() - fetched
                assert post(resource, old_token).status_code == 401
                assert post(resource, new_token).status_code == 200
    assert keys_max_age - 1 <= refused_after < keys_max_age + 2


def test_random_tokens_are_limited_before_they_reach_the_authorization_server(projects):
    """A client sending made-up tokens to a server that introspects: past its burst of refusals it gets
    429 from the server itself, so the authorization server is asked about a few only. A valid token
    from another client is taken at once; from the flooding address, within the second its limit
    lets through."""
    sdk = "mcp1-fastmcp"
    port = port_answers(False)["port"]
    resource = f"http://127.0.0.1:{port}/mcp"
    with authorization_server(resources(resource, "opaque")) as auth:
        env = oauth_environment(
            port,
            auth.issuer,
            resource,
            MCP_OAUTH_INTROSPECTION_URL=auth.introspection_endpoint,
            MCP_OAUTH_CLIENT_ID=auth.introspection_client_id,
            MCP_OAUTH_CLIENT_SECRET=auth.introspection_client_secret,
        )
        with serving(projects[sdk], python=sdk_python(NEWEST[sdk]), **env):
            started = time.monotonic()
            statuses = collections.Counter(post(resource, secrets.token_urlsafe(32)).status_code for _ in range(200))
            flooded_for = time.monotonic() - started
            asked = auth.introspections()
            # Another client (another address) is not slowed; the flooding one gets a request a second.
            valid = auth.client_credentials_token(resource, SCOPE)
            with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other_client:
                response = other_client.post(
                    resource, json=TOOLS_CALL, headers={**MCP_HEADERS, "Authorization": f"Bearer {valid}"}
                )
                assert response.status_code == 200
            time.sleep(1.1)
            assert post(resource, auth.client_credentials_token(resource, SCOPE)).status_code == 200
    # The burst of refusals, and one a second after it, reach introspection; the rest never leave the server.
    # (On a loaded machine the 200 requests take seconds, and each second lets one more through.)
    refusals_allowed = REFUSALS_BURST + 1 + REFUSALS_PER_SECOND * math.ceil(flooded_for) + 1
    assert statuses[401] + statuses[429] == 200 and statuses[401] <= refusals_allowed, (statuses, flooded_for)
    assert asked <= statuses[401] + 1, (asked, statuses)
