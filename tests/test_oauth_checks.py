"""The OAuth checks of the rendered mcp_auth.py, one by one, with keys and answers made here.

The end-to-end tests (tests/e2e/test_oauth.py) run a real authorization server; tokens it cannot
make are made here: a good signature with the wrong issuer, a header naming another algorithm than
the key's, keys the server cannot use in its JWKS, introspection answers of every shape.
"""

from __future__ import annotations

import importlib.util
import io
import json
import time
import urllib.error
from pathlib import Path

import anyio
import jwt
import pytest
from conftest import render
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from pytest_copie.plugin import Copie

REPO_ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://issuer.example.com/"
RESOURCE = "https://mcp.example.com/weather/mcp"
SCOPE = "mcp:tools"


@pytest.fixture(scope="module")
def mcp_auth(tmp_path_factory):
    """The rendered mcp_auth.py of an OAuth deployment, imported."""
    copie = Copie(default_template_dir=REPO_ROOT, test_dir=tmp_path_factory.mktemp("oauth"), config_file=None)
    project = render(
        copie, auth="oauth", use_nginx=False, oauth_issuer=ISSUER, oauth_resource=RESOURCE, oauth_scopes=[SCOPE]
    )
    spec = importlib.util.spec_from_file_location("rendered_mcp_auth", project / "mcp_auth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
JWKS = {
    "keys": [
        {**RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True), "kid": "rsa", "use": "sig"},
        {**ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True), "kid": "ec", "use": "sig"},
    ]
}


def claims(**changes) -> dict:
    now = int(time.time())
    return {"iss": ISSUER, "aud": RESOURCE, "exp": now + 300, "iat": now, "sub": "u1", "scope": SCOPE} | changes


def token(payload: dict, key=RSA_KEY, algorithm: str = "RS256", kid: str = "rsa") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid, "typ": "at+jwt"})


def oauth(mcp_auth, monkeypatch, jwks=JWKS, **settings):
    fetched = []

    def fetch_json(url, data=None, headers=None):
        fetched.append(url)
        if url.endswith("/jwks"):
            return jwks
        if "/.well-known/" in url:
            return {"issuer": ISSUER, "jwks_uri": "https://issuer.example.com/jwks"}
        raise AssertionError(url)

    monkeypatch.setattr(mcp_auth, "_fetch_json", fetch_json)
    values = {
        "issuer": ISSUER,
        "resource": RESOURCE,
        "audience": RESOURCE,
        "scopes": [SCOPE],
        "jwks_uri": "",
        "introspection_url": "",
        "client_id": "",
        "client_secret": "",
    }
    resource = mcp_auth.OAuthResource(**(values | settings))
    return resource, fetched


def check(resource, access_token: str):
    return anyio.run(resource.check, access_token)


def refused(mcp_auth, resource, access_token: str) -> tuple[int, str]:
    with pytest.raises(mcp_auth.Refused) as refusal:
        check(resource, access_token)
    return refusal.value.status, refusal.value.description


def test_a_good_token_passes_and_the_keys_are_found_from_the_issuer(mcp_auth, monkeypatch):
    resource, fetched = oauth(mcp_auth, monkeypatch)
    assert check(resource, token(claims()))["sub"] == "u1"
    assert check(resource, token(claims(aud=["https://other.example.com", RESOURCE])))["sub"] == "u1"
    assert check(resource, token(claims(), EC_KEY, "ES256", "ec"))["sub"] == "u1"
    assert fetched == [
        "https://issuer.example.com/.well-known/oauth-authorization-server",
        "https://issuer.example.com/jwks",
    ]


@pytest.mark.parametrize(
    ("name", "payload", "status", "why"),
    [
        ("wrong issuer, good signature", claims(iss="https://evil.example.com/"), 401, "another issuer"),
        ("issuer without its trailing slash", claims(iss=ISSUER.rstrip("/")), 401, "another issuer"),
        ("another resource", claims(aud="https://other.example.com/mcp"), 401, "another resource"),
        ("no audience in a list", claims(aud=["https://a.example.com", "https://b.example.com"]), 401, "another"),
        ("expired", claims(exp=int(time.time()) - 60), 401, "expired"),
        ("not yet valid", claims(nbf=int(time.time()) + 600), 401, "invalid token"),
        ("no exp", {k: v for k, v in claims().items() if k != "exp"}, 401, "exp"),
        ("no aud", {k: v for k, v in claims().items() if k != "aud"}, 401, "aud"),
        ("missing scope", claims(scope="mcp:read"), 403, "mcp:tools"),
        ("scope in scp", claims(scope=None, scp=[SCOPE]), 0, ""),
        ("scope in permissions", claims(scope=None, permissions=[SCOPE]), 0, ""),
    ],
)
def test_claims(mcp_auth, monkeypatch, name, payload, status, why):
    resource, _ = oauth(mcp_auth, monkeypatch)
    access_token = token({k: v for k, v in payload.items() if v is not None})
    if status == 0:
        assert check(resource, access_token)["sub"] == "u1"
    else:
        got, description = refused(mcp_auth, resource, access_token)
        assert got == status and why in description, (name, description)


def test_a_header_naming_another_algorithm_than_the_keys_is_refused_not_a_crash(mcp_auth, monkeypatch):
    resource, _ = oauth(mcp_auth, monkeypatch)
    good = token(claims())
    header, payload, signature = good.split(".")
    for algorithm, kid in (("ES256", "rsa"), ("EdDSA", "rsa"), ("RS256", "ec"), ("PS256", "ec"), ("ES384", "ec")):
        forged_header = jwt.utils.base64url_encode(
            json.dumps({"alg": algorithm, "kid": kid, "typ": "at+jwt"}).encode()
        ).decode()
        assert refused(mcp_auth, resource, f"{forged_header}.{payload}.{signature}")[0] == 401, algorithm


def test_keys_the_server_cannot_use_are_skipped(mcp_auth, monkeypatch):
    jwks = {
        "keys": [
            "not a key",
            {"kty": "XYZ", "kid": "odd"},
            {"kid": "no-kty"},
            {"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA", "kid": "bad-curve"},
            {**JWKS["keys"][0], "use": "enc", "kid": "encryption"},
            JWKS["keys"][0],
        ]
    }
    resource, _ = oauth(mcp_auth, monkeypatch, jwks=jwks)
    assert check(resource, token(claims()))["sub"] == "u1"
    assert refused(mcp_auth, resource, token(claims(), kid="encryption"))[0] == 401


def test_an_unknown_key_fetches_the_keys_again_at_most_every_30_seconds(mcp_auth, monkeypatch):
    resource, fetched = oauth(mcp_auth, monkeypatch)
    assert check(resource, token(claims()))["sub"] == "u1"
    for _ in range(5):
        assert refused(mcp_auth, resource, token(claims(), kid="rotated"))[0] == 401
    assert fetched.count("https://issuer.example.com/jwks") == 1
    resource.keys_fetched -= 31
    refused(mcp_auth, resource, token(claims(), kid="rotated"))
    assert fetched.count("https://issuer.example.com/jwks") == 2


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (200, b'["not", "an", "object"]', "unavailable"),
        (200, b"<html>maintenance</html>", "unavailable"),
        (400, b'{"error": "unsupported_token_type"}', "refused"),
        (400, b'{"error": "invalid_client"}', "unavailable"),  # our credentials: the server's problem, logged
        (401, b'{"error": "invalid_client"}', "unavailable"),
        (500, b"", "unavailable"),
    ],
)
def test_what_the_authorization_server_answers_is_judged_not_crashed_on(mcp_auth, monkeypatch, status, body, outcome):
    def urlopen(request, timeout):
        if status != 200:
            raise urllib.error.HTTPError(request.full_url, status, "answer", {}, io.BytesIO(body))
        return io.BytesIO(body)

    monkeypatch.setattr(mcp_auth.urllib.request, "urlopen", urlopen)
    expected = mcp_auth.Refused if outcome == "refused" else mcp_auth.Unavailable
    with pytest.raises(expected):
        mcp_auth._fetch_json("https://issuer.example.com/introspect", data=b"token=x")


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"active": True, "iss": ISSUER, "aud": RESOURCE, "scope": SCOPE}, 0),
        ({"active": True, "aud": [RESOURCE], "scope": SCOPE}, 0),
        ({"active": "false", "aud": RESOURCE, "scope": SCOPE}, 401),
        ({"active": "true", "aud": RESOURCE, "scope": SCOPE}, 401),
        ({"active": False}, 401),
        ({"active": True, "iss": "https://evil.example.com/", "aud": RESOURCE, "scope": SCOPE}, 401),
        ({"active": True, "scope": SCOPE}, 401),
        ({"active": True, "aud": RESOURCE, "scope": SCOPE, "exp": int(time.time()) - 60}, 401),
        ({"active": True, "aud": RESOURCE, "scope": "other"}, 403),
    ],
)
def test_introspection_answers(mcp_auth, monkeypatch, answer, status):
    endpoint = "https://issuer.example.com/introspect"
    resource, _ = oauth(mcp_auth, monkeypatch, introspection_url=endpoint, client_id="rs", client_secret="s")
    asked = []
    monkeypatch.setattr(resource, "ask_introspection", lambda value: asked.append(value) or answer)
    for _ in range(3):
        if status == 0:
            assert check(resource, "opaque-token-1")["active"] is True
        else:
            assert refused(mcp_auth, resource, "opaque-token-1")[0] == status
    # An answer is remembered briefly, a refusal too: a token is asked about once here, not per request.
    assert asked == ["opaque-token-1"]


def test_the_middleware_closes_websockets_and_hands_no_credential_to_the_server(mcp_auth):
    seen = []

    async def app(scope, receive, send):
        seen.append(scope)

    async def accept_any(token):
        return {}

    guarded = mcp_auth.RequireCredential(app, accept_any, ())
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    async def call(scope):
        await guarded(scope, receive, send)

    anyio.run(call, {"type": "websocket", "path": "/mcp", "headers": [], "query_string": b""})
    assert sent == [{"type": "websocket.close", "code": 1008}] and seen == []
    headers = [(b"authorization", b"Bearer abc"), (b"accept", b"application/json")]
    anyio.run(call, {"type": "http", "path": "/mcp", "root_path": "", "headers": headers, "query_string": b""})
    assert seen and seen[0]["headers"] == [(b"accept", b"application/json")]
