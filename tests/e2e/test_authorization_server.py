"""The authorization server fixture itself: the mcp SDK's own OAuth client, a real oidc-provider, and a
tiny resource server written here (Starlette) that does what an MCP server in resource server mode must:
answer 401 with ``WWW-Authenticate: Bearer resource_metadata=...``, publish RFC 9728 metadata, and check
a bearer token (JWT: signature, issuer, audience, expiry; opaque: RFC 7662 introspection) and its scope.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import jwt
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .authorization_server import AuthorizationServer, AuthorizationServerError, authorization_server
from .oauth_client import oauth_client
from .ports import LOOPBACK, free_port

pytestmark = pytest.mark.e2e

SCOPE = "mcp:tools"


class InvalidToken(Exception):
    pass


class ResourceServer:
    """Resources ``/mcp`` (JWT access tokens) and ``/opaque/mcp`` (introspected), on one port."""

    def __init__(self, auth: AuthorizationServer, port: int):
        self.auth = auth
        self.base = f"http://{LOOPBACK}:{port}"
        self.port = port
        self.jwks = jwt.PyJWKClient(auth.jwks_uri)
        routes = []
        for path, fmt in (("/mcp", "jwt"), ("/opaque/mcp", "opaque")):
            routes.append(Route(f"/.well-known/oauth-protected-resource{path}", self._metadata_endpoint(path)))
            routes.append(Route(path, self._resource_endpoint(path, fmt), methods=["GET", "POST"]))
        self.app = Starlette(routes=routes)

    def url(self, path: str) -> str:
        return self.base + path

    def _metadata_endpoint(self, path: str):
        async def metadata(request: Request) -> Response:
            return JSONResponse(
                {
                    "resource": self.url(path),
                    "authorization_servers": [self.auth.issuer],
                    "scopes_supported": [SCOPE],
                    "bearer_methods_supported": ["header"],
                }
            )

        return metadata

    async def _claims(self, token: str, resource: str, fmt: str) -> dict[str, Any]:
        if fmt == "jwt":
            try:
                key = self.jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256"],
                    audience=resource,
                    issuer=self.auth.issuer,
                    options={"require": ["exp", "iat", "iss", "aud"]},
                )
            except jwt.PyJWTError as e:
                raise InvalidToken(f"{type(e).__name__}: {e}") from e
            return {**claims, "typ": jwt.get_unverified_header(token).get("typ")}
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                self.auth.introspection_endpoint,
                data={"token": token},
                auth=(self.auth.introspection_client_id, self.auth.introspection_client_secret),
            )
        claims = answer.json() if answer.status_code == 200 else {"active": False}
        if not claims.get("active"):
            raise InvalidToken("inactive")
        if claims.get("aud") != resource and resource not in (claims.get("aud") or []):
            raise InvalidToken(f"audience {claims.get('aud')}")
        return claims

    def _resource_endpoint(self, path: str, fmt: str):
        resource = self.url(path)
        metadata_url = f"{self.base}/.well-known/oauth-protected-resource{path}"

        async def endpoint(request: Request) -> Response:
            header = request.headers.get("authorization", "")
            if not header.startswith("Bearer "):
                return Response(
                    status_code=401, headers={"WWW-Authenticate": f'Bearer resource_metadata="{metadata_url}"'}
                )
            try:
                claims = await self._claims(header.removeprefix("Bearer "), resource, fmt)
            except InvalidToken as e:
                challenge = f'Bearer error="invalid_token", error_description="{e}", resource_metadata="{metadata_url}"'
                return Response(status_code=401, headers={"WWW-Authenticate": challenge})
            if SCOPE not in (claims.get("scope") or "").split():
                challenge = f'Bearer error="insufficient_scope", scope="{SCOPE}", resource_metadata="{metadata_url}"'
                return Response(status_code=403, headers={"WWW-Authenticate": challenge})
            return JSONResponse({"claims": claims})

        return endpoint

    @contextlib.contextmanager
    def running(self) -> Iterator[ResourceServer]:
        server = uvicorn.Server(uvicorn.Config(self.app, host=LOOPBACK, port=self.port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "resource server did not start"
            time.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(5)


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[AuthorizationServer, ResourceServer]]:
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    resources = {
        f"{base}/mcp": {"scopes": [SCOPE], "format": "jwt"},
        f"{base}/opaque/mcp": {"scopes": [SCOPE], "format": "opaque"},
        # A resource the resource server does not serve: its tokens have the wrong audience there.
        f"{base}/other/mcp": {"scopes": [SCOPE, "other:read"], "format": "jwt"},
    }
    with authorization_server(resources) as auth:
        with ResourceServer(auth, port).running() as rs:
            yield auth, rs


async def mcp_client_flow(auth: AuthorizationServer, url: str, auth_method: str | None):
    """The mcp SDK's OAuthClientProvider from the first 401 to the authorized request."""
    provider, seen, storage = oauth_client(auth, url, auth_method)
    async with httpx.AsyncClient(auth=provider, timeout=30) as client:
        response = await client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    return response, seen, storage


@pytest.mark.parametrize("auth_method", [None, "client_secret_post", "none"])
def test_mcp_client_flow_with_jwt_access_token(stack, auth_method):
    auth, rs = stack
    resource = rs.url("/mcp")
    response, seen, storage = anyio.run(mcp_client_flow, auth, resource, auth_method)
    assert response.status_code == 200, response.headers

    # What the client asked for: only the PRM scope (no openid) and the resource (RFC 8707).
    asked = parse_qs(urlsplit(seen["authorization_url"]).query)
    assert asked["scope"] == [SCOPE]
    assert asked["resource"] == [resource]
    assert asked["code_challenge_method"] == ["S256"]
    # Registered by DCR, with a loopback http redirect URI and the requested auth method.
    assert storage.client_info.token_endpoint_auth_method == (auth_method or "client_secret_basic")

    claims = response.json()["claims"]
    assert claims["aud"] == resource  # one string, not a list
    assert SCOPE in claims["scope"].split()
    assert claims["iss"] == auth.issuer
    assert claims["client_id"] == storage.client_info.client_id
    assert claims["typ"] == "at+jwt"
    assert storage.tokens.scope == SCOPE


def test_mcp_client_flow_with_opaque_access_token(stack):
    auth, rs = stack
    resource = rs.url("/opaque/mcp")
    response, _, storage = anyio.run(mcp_client_flow, auth, resource, None)
    assert response.status_code == 200, response.headers
    claims = response.json()["claims"]
    assert claims["active"] is True
    assert claims["aud"] == resource
    assert claims["scope"] == SCOPE
    assert claims["client_id"] == storage.client_info.client_id
    assert storage.tokens.access_token.count(".") != 2  # not a JWT


def test_introspection_of_opaque_token(stack):
    auth, rs = stack
    resource = rs.url("/opaque/mcp")
    token = auth.client_credentials_token(resource, SCOPE)
    answer = auth.introspect(token)
    assert answer["active"] is True
    assert answer["aud"] == resource
    assert answer["scope"] == SCOPE
    assert answer["client_id"] == auth.credentials_client_id
    assert answer["iss"] == auth.issuer
    assert auth.introspect(token + "x") == {"active": False}
    # JWT access tokens are for local verification only.
    with pytest.raises(AuthorizationServerError, match="unsupported_token_type"):
        auth.introspect(auth.client_credentials_token(rs.url("/mcp"), SCOPE))


def test_short_ttl_tokens_expire(stack):
    auth, rs = stack
    # 3 s, not 1: iat and exp are whole seconds, so a 1 s token issued late in a second may already
    # have expired by the first request on a loaded machine (seen in CI).
    jwt_token = auth.client_credentials_token(rs.url("/mcp"), SCOPE, ttl=3)
    opaque_token = auth.client_credentials_token(rs.url("/opaque/mcp"), SCOPE, ttl=3)
    claims = jwt.decode(jwt_token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3
    assert httpx.get(rs.url("/mcp"), headers={"Authorization": f"Bearer {jwt_token}"}).status_code == 200
    assert auth.introspect(opaque_token)["active"] is True
    time.sleep(max(0.0, claims["exp"] + 2.1 - time.time()))  # the opaque one may end a second later
    expired = httpx.get(rs.url("/mcp"), headers={"Authorization": f"Bearer {jwt_token}"})
    assert expired.status_code == 401
    assert "ExpiredSignatureError" in expired.headers["www-authenticate"]
    assert auth.introspect(opaque_token) == {"active": False}
    assert httpx.get(rs.url("/opaque/mcp"), headers={"Authorization": f"Bearer {opaque_token}"}).status_code == 401


def test_tokens_the_resource_server_must_refuse(stack):
    auth, rs = stack
    resource = rs.url("/mcp")

    def call(token: str) -> httpx.Response:
        return httpx.get(resource, headers={"Authorization": f"Bearer {token}"})

    # No scope: 403 insufficient_scope (scopes a resource does not define are dropped).
    for scope in ("", "other:read"):
        refused = call(auth.client_credentials_token(resource, scope))
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    # A token for another resource: right issuer and key, wrong audience.
    other = auth.client_credentials_token(rs.url("/other/mcp"), f"{SCOPE} other:read")
    assert jwt.decode(other, options={"verify_signature": False})["aud"] == rs.url("/other/mcp")
    assert "InvalidAudienceError" in call(other).headers["www-authenticate"]
    # An ID token (aud = the client) from a full authorization code flow; its access token works.
    tokens = auth.authorization_code_tokens(resource)
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_claims["aud"] == auth.public_client_id
    assert "typ" not in jwt.get_unverified_header(tokens["id_token"])  # access tokens say "at+jwt"
    assert "InvalidAudienceError" in call(tokens["id_token"]).headers["www-authenticate"]
    accepted = call(tokens["access_token"])
    assert accepted.status_code == 200
    assert accepted.json()["claims"]["sub"] == "mcp-e2e-user"
    # A second server at the same time: same resource, another issuer and signing key.
    with authorization_server({resource: {"scopes": [SCOPE], "format": "jwt"}}) as wrong:
        assert wrong.issuer != auth.issuer
        foreign = call(wrong.client_credentials_token(resource, SCOPE))
        assert foreign.status_code == 401
        assert 'error="invalid_token"' in foreign.headers["www-authenticate"]
