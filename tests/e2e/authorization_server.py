"""A real OAuth 2.1 authorization server for e2e tests of MCP "resource server" mode: panva's oidc-provider.

Not a token issuer written for the tests: the npm package ``oidc-provider`` (pinned in
``authorization_server/package-lock.json``), configured by ``authorization_server/provider.mjs``
with resource indicators (RFC 8707), open dynamic client registration (RFC 7591), token introspection
(RFC 7662), the client credentials grant, PKCE (S256) always required, and its built-in development
login and consent pages, which :meth:`AuthorizationServer.authorize` fills in.

Usage::

    with authorization_server({"http://127.0.0.1:8123/mcp": {"scopes": ["mcp:tools"], "format": "jwt"}}) as auth:
        auth.issuer                 # "http://127.0.0.1:PORT" (see below about a trailing slash)
        auth.jwks_uri               # to verify "jwt" access tokens (RS256, header typ "at+jwt")
        auth.introspection_endpoint, auth.introspection_client_id, auth.introspection_client_secret
        auth.authorize(url)         # the mcp client's redirect_handler: returns the redirect to its redirect_uri
        auth.client_credentials_token("http://127.0.0.1:8123/mcp", "mcp:tools", ttl=1)

Resources (one dict per resource indicator URL): ``scopes`` (list of the scopes the resource defines;
an access token only ever carries granted scopes that its resource defines), ``format`` (``"jwt"``:
RFC 9068 RS256-signed JWT, verify with ``jwks_uri``; ``"opaque"``: check with introspection; JWTs
cannot be introspected, oidc-provider answers 400 ``unsupported_token_type``), ``ttl`` (seconds,
default 3600) and ``audience`` (default: the indicator itself). A token's ``aud`` is one string.

What an MCP client (mcp 1.x and 2.x ``OAuthClientProvider``) needs from the resource server for the
whole flow: Protected Resource Metadata with ``resource`` = the indicator configured here (equal to,
or a parent path of, the URL the client was given), ``authorization_servers`` = ``[issuer]`` and
``scopes_supported`` = the resource's scopes (the client requests exactly these, or the ``scope`` of
the ``WWW-Authenticate`` challenge when it has one; it never adds ``openid``, and oidc-provider does
not need it: a request without ``openid`` is plain OAuth 2.0). mcp 2.x also appends
``offline_access`` (this server lists it) and ``prompt=consent``, and then gets a refresh token.
The ``resource`` parameter is the PRM's ``resource`` as pydantic renders it: verbatim for an indicator
with a path; mcp 1.x adds a ``/`` to a bare origin (``https://host:8443`` -> ``https://host:8443/``),
which must then be the indicator configured here (indicators are matched exactly).

The issuer is ``http://127.0.0.1:PORT`` (no trailing ``/``; ``trailing_slash=True`` adds one). It is
the metadata's ``issuer``, the ``iss`` of every token and of the authorization response (RFC 9207):
publish it in ``authorization_servers`` and check JWTs against it verbatim. mcp 2.x compares the
PRM's ``authorization_servers[0]`` with the metadata's ``issuer`` as plain strings (a trailing ``/``
on one side only fails the flow); mcp 1.x tolerates that difference; PyJWT's ``issuer=`` check does not.

Node.js and the package are installed on first use: ``nodejs``/``npm`` from Debian when ``node`` is
missing, then ``npm ci`` into ``CACHE_DIR/authorization-server/<hash of package files>``, never
into the repository.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

from .certs import TlsCerts
from .node_packages import NodePackageError, installed_script
from .ports import LOOPBACK, free_port

PACKAGE_DIR = Path(__file__).resolve().parent / "authorization_server"
SCRIPT = "provider.mjs"
# oidc-provider 9.x uses URL.parse (Node.js >= 20.18); it warns that it wants Node.js 22 LTS, but runs.
MIN_NODE = (20, 18)
RESOURCE_KEYS = {"scopes", "format", "ttl", "audience"}
# The login the development login page is given (it accepts any); it becomes the tokens' `sub`.
DEFAULT_LOGIN = "mcp-e2e-user"


class AuthorizationServerError(RuntimeError):
    """The authorization server failed to install, start, or answered unexpectedly."""


def install() -> Path:
    """The provider script, runnable with ``node``, next to an installed ``node_modules`` (cached)."""
    try:
        return installed_script(PACKAGE_DIR, SCRIPT, "authorization-server", MIN_NODE)
    except NodePackageError as error:
        raise AuthorizationServerError(str(error)) from error


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


_FORM = re.compile(r"<form\b[^>]*\baction=\"([^\"]+)\"", re.IGNORECASE)
_PROMPT = re.compile(r"name=\"prompt\"\s+value=\"([^\"]+)\"", re.IGNORECASE)


@dataclass
class AuthorizationServer:
    """A running oidc-provider; see the module docstring. Made by :func:`authorization_server`."""

    issuer: str
    port: int
    resources: dict[str, dict[str, Any]]
    metadata: dict[str, Any]
    log_path: Path
    introspection_client_id: str
    introspection_client_secret: str
    introspection_auth_method: str
    # The fixture's own clients: confidential (client credentials) and public (authorization code + PKCE).
    credentials_client_id: str
    credentials_client_secret: str
    public_client_id: str
    public_redirect_uri: str
    # What clients of this server verify its certificate with (True: the system's CAs; plain HTTP ignores it).
    verify: Any = True

    # Endpoints, from the server's own metadata (RFC 8414).
    @property
    def jwks_uri(self) -> str:
        return self.metadata["jwks_uri"]

    @property
    def introspection_endpoint(self) -> str:
        return self.metadata["introspection_endpoint"]

    @property
    def token_endpoint(self) -> str:
        return self.metadata["token_endpoint"]

    @property
    def authorization_endpoint(self) -> str:
        return self.metadata["authorization_endpoint"]

    @property
    def registration_endpoint(self) -> str:
        return self.metadata["registration_endpoint"]

    def log(self) -> str:
        """What the provider printed (its warnings and the errors it answered with)."""
        return self.log_path.read_text(errors="replace")

    def introspections(self) -> int:
        """How many introspection requests reached it."""
        return len(re.findall(r"^introspection \d+$", self.log(), re.M))

    def protected_resource_metadata(self, resource: str) -> dict[str, Any]:
        """RFC 9728 metadata a resource server would publish for ``resource`` with this issuer."""
        return {
            "resource": resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": list(self.resources[resource].get("scopes", [])),
            "bearer_methods_supported": ["header"],
        }

    # --- the development login and consent pages, as a person would fill them in -----------------

    def _step(self, response: httpx.Response, login: str, password: str) -> str | tuple[str, str, dict | None]:
        """The final redirect (a URL off this server), or the next request to make."""
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            here = urlsplit(str(response.url))
            if not location.startswith(f"{here.scheme}://{here.netloc}/"):
                return location
            return "GET", location, None
        if response.status_code == 200 and "text/html" in response.headers.get("content-type", ""):
            form, prompt = _FORM.search(response.text), _PROMPT.search(response.text)
            if form and prompt:
                data = {"prompt": prompt.group(1)}
                if prompt.group(1) == "login":
                    data |= {"login": login, "password": password}
                return "POST", urljoin(str(response.url), form.group(1)), data
        text = re.sub(r"<[^>]+>", " ", response.text)
        raise AuthorizationServerError(
            f"unexpected answer {response.status_code} from {response.url}: {' '.join(text.split())[:1500]}"
        )

    def authorize(self, authorization_url: str, *, login: str = DEFAULT_LOGIN, password: str = "any") -> str:
        """Go through login and consent for ``authorization_url``; return the redirect to the client.

        That URL is the client's ``redirect_uri`` with ``code``, ``state`` and ``iss`` (or ``error``
        when the server refused the request); it is returned, not requested. Cookies live only for
        this call, so every call logs in afresh.
        """
        with httpx.Client(timeout=15, verify=self.verify) as client:
            request = client.build_request("GET", authorization_url)
            for _ in range(20):
                step = self._step(client.send(request), login, password)
                if isinstance(step, str):
                    return step
                method, url, data = step
                request = client.build_request(method, url, data=data)
        raise AuthorizationServerError(f"no redirect to the client after 20 steps from {authorization_url}")

    async def authorize_async(
        self, authorization_url: str, *, login: str = DEFAULT_LOGIN, password: str = "any"
    ) -> str:
        """:meth:`authorize` without blocking the event loop (for an async ``redirect_handler``)."""
        async with httpx.AsyncClient(timeout=15, verify=self.verify) as client:
            request = client.build_request("GET", authorization_url)
            for _ in range(20):
                step = self._step(await client.send(request), login, password)
                if isinstance(step, str):
                    return step
                method, url, data = step
                request = client.build_request(method, url, data=data)
        raise AuthorizationServerError(f"no redirect to the client after 20 steps from {authorization_url}")

    # --- tokens minted directly, for negative tests -----------------------------------------------

    def _token_request(self, data: dict[str, str], ttl: int | None) -> dict[str, Any]:
        headers = {"X-Test-Token-TTL": str(ttl)} if ttl is not None else {}
        response = httpx.post(self.token_endpoint, data=data, headers=headers, timeout=15, verify=self.verify)
        if response.status_code != 200:
            raise AuthorizationServerError(f"token request failed ({response.status_code}): {response.text}")
        return response.json()

    def client_credentials_token(self, resource: str, scope: str, *, ttl: int | None = None) -> str:
        """An access token for ``resource`` (its format, ``aud`` = the resource) from the client credentials grant.

        ``scope`` is space-delimited; scopes the resource does not define are dropped silently, so
        ``""`` (or another resource's scope) gives a token without the needed scope. ``ttl`` in
        seconds (e.g. 1 for an expired token after a short sleep); the token's ``sub`` is the
        client id, it has no user.
        """
        data = {
            "grant_type": "client_credentials",
            "client_id": self.credentials_client_id,
            "client_secret": self.credentials_client_secret,
            "resource": resource,
        }
        if scope:
            data["scope"] = scope
        return self._token_request(data, ttl)["access_token"]

    def authorization_code_tokens(
        self, resource: str | None, scope: str | None = None, *, ttl: int | None = None, login: str = DEFAULT_LOGIN
    ) -> dict[str, Any]:
        """The token response of a full authorization code + PKCE flow by the fixture's public client.

        ``scope`` defaults to ``openid`` plus the resource's scopes, so the response holds an
        ``id_token`` (a JWT of this issuer and signing key with ``aud`` = :attr:`public_client_id` and no
        ``typ`` header: a token whose ``aud`` is not the resource) and an ``access_token`` for ``resource``
        (``aud`` = resource, ``sub`` = ``login``). ``ttl`` applies to the access token.
        """
        if scope is None:
            scope = " ".join(["openid", *(self.resources[resource].get("scopes", []) if resource else [])])
        verifier, challenge = _pkce_pair()
        state = secrets.token_urlsafe(16)
        params = {
            "response_type": "code",
            "client_id": self.public_client_id,
            "redirect_uri": self.public_redirect_uri,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if resource:
            params["resource"] = resource
        redirect = self.authorize(f"{self.authorization_endpoint}?{urlencode(params)}", login=login)
        query = {key: values[0] for key, values in parse_qs(urlsplit(redirect).query).items()}
        if "code" not in query or query.get("state") != state:
            raise AuthorizationServerError(f"authorization failed: {redirect}")
        data = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "code_verifier": verifier,
            "redirect_uri": self.public_redirect_uri,
            "client_id": self.public_client_id,
        }
        if resource:
            data["resource"] = resource
        return self._token_request(data, ttl)

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 introspection as the resource server's client does it (``{"active": false}`` if invalid)."""
        data = {"token": token}
        auth = None
        if self.introspection_auth_method == "client_secret_post":
            data |= {"client_id": self.introspection_client_id, "client_secret": self.introspection_client_secret}
        else:
            auth = (self.introspection_client_id, self.introspection_client_secret)
        response = httpx.post(self.introspection_endpoint, data=data, auth=auth, timeout=15, verify=self.verify)
        if response.status_code != 200:
            raise AuthorizationServerError(f"introspection failed ({response.status_code}): {response.text}")
        return response.json()


def _normalize_resources(resources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    normalized = {}
    for indicator, spec in resources.items():
        unknown = set(spec) - RESOURCE_KEYS
        if unknown:
            raise ValueError(f"resource {indicator}: unknown keys {sorted(unknown)} (known: {sorted(RESOURCE_KEYS)})")
        scopes = spec.get("scopes", [])
        scopes = scopes.split() if isinstance(scopes, str) else list(scopes)
        fmt = spec.get("format", "jwt")
        if fmt not in ("jwt", "opaque"):
            raise ValueError(f"resource {indicator}: format must be 'jwt' or 'opaque', not {fmt!r}")
        normalized[indicator] = {**spec, "scopes": scopes, "format": fmt}
    return normalized


@contextlib.contextmanager
def authorization_server(
    resources: dict[str, dict[str, Any]],
    *,
    default_resource: str | None = None,
    issuer_host: str = LOOPBACK,
    trailing_slash: bool = False,
    introspection_auth_method: str = "client_secret_basic",
    startup_timeout: float = 120.0,  # a loaded 2-core CI machine once took over 30 s to start it
    tls: TlsCerts | None = None,
    port: int | None = None,
) -> Iterator[AuthorizationServer]:
    """Start one oidc-provider on ``127.0.0.1:<free port>`` for ``resources``; stop it on exit.

    ``resources`` maps resource indicator URLs to ``{"scopes": [...], "format": "jwt" | "opaque",
    "ttl": seconds, "audience": str}``. ``default_resource`` is used for requests without a
    ``resource`` parameter (default: the only resource, if there is one). The issuer is
    ``http://{issuer_host}:PORT`` (``https://`` with ``tls``, whose certificate must name
    ``issuer_host``), with a final ``/`` if ``trailing_slash`` (see the module docstring). It listens on
    127.0.0.1 for ``localhost`` and ``127.0.0.1``, else on ``issuer_host`` itself, which must then be an
    address of this machine (the Docker bridge's, so that containers reach it).
    ``introspection_auth_method`` is how the resource server's client authenticates at the
    introspection endpoint (``client_secret_basic`` or ``client_secret_post``). Several servers may
    run at once (each its own port and signing key). If the block raises, the provider's log is
    written to stderr.
    """
    resources = _normalize_resources(resources)
    if default_resource is not None and default_resource not in resources:
        raise ValueError(f"default_resource {default_resource} is not one of the resources")
    script = install()
    port = port or free_port()  # a given port: the same issuer again, with a new signing key
    issuer = f"{'https' if tls else 'http'}://{issuer_host}:{port}" + ("/" if trailing_slash else "")
    verify: Any = tls.ssl_context() if tls else True
    clients = {
        "introspection": {
            "client_id": "mcp-resource-server",
            "client_secret": secrets.token_urlsafe(32),
            "auth_method": introspection_auth_method,
        },
        "credentials": {"client_id": "e2e-credentials-client", "client_secret": secrets.token_urlsafe(32)},
        "public": {"client_id": "e2e-public-client", "redirect_uri": "http://localhost/e2e-callback"},
    }
    config = {
        # On loopback, unless the issuer names another address of this machine (e.g. the Docker
        # bridge's, for containers to reach): then there.
        "host": LOOPBACK if issuer_host in (LOOPBACK, "localhost") else issuer_host,
        "port": port,
        "tls": {"cert": str(tls.cert_chain), "key": str(tls.private_key)} if tls else None,
        "issuer": issuer,
        "resources": resources,
        "default_resource": default_resource,
        "clients": clients,
    }
    with tempfile.TemporaryDirectory(prefix="authorization-server-") as workdir:
        log_path = Path(workdir) / "provider.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                ["node", str(script), json.dumps(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=script.parent,
            )
        try:
            deadline = time.monotonic() + startup_timeout
            while f"ready {issuer}" not in log_path.read_text(errors="replace"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    state = f"exited with {proc.returncode}" if proc.returncode is not None else "not ready in time"
                    raise AuthorizationServerError(f"oidc-provider {state}:\n{log_path.read_text(errors='replace')}")
                time.sleep(0.05)
            # Asked at the issuer's own host: oidc-provider builds the endpoint URLs from the request's Host.
            metadata = httpx.get(
                issuer.rstrip("/") + "/.well-known/oauth-authorization-server", timeout=10, verify=verify
            )
            metadata.raise_for_status()
            server = AuthorizationServer(
                issuer=issuer,
                port=port,
                resources=resources,
                metadata=metadata.json(),
                log_path=log_path,
                introspection_client_id=clients["introspection"]["client_id"],
                introspection_client_secret=clients["introspection"]["client_secret"],
                introspection_auth_method=introspection_auth_method,
                credentials_client_id=clients["credentials"]["client_id"],
                credentials_client_secret=clients["credentials"]["client_secret"],
                public_client_id=clients["public"]["client_id"],
                public_redirect_uri=clients["public"]["redirect_uri"],
                verify=verify,
            )
            try:
                yield server
            except BaseException:
                sys.stderr.write(f"--- oidc-provider log ({issuer}) ---\n{server.log()}\n")
                raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
