"""The OAuth checks of the rendered mcp_auth.py, one by one, with keys and answers made here.

The end-to-end tests (tests/e2e/test_oauth.py) run a real authorization server; tokens it cannot
make are made here: a good signature with the wrong issuer, a header naming another algorithm than
the key's, keys the server cannot use in its JWKS, introspection answers of every shape.
"""

from __future__ import annotations

import hashlib
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
from http_recorder import recording_server
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
    # A day ahead: the parametrized payloads are made when the tests are collected, maybe minutes before they run.
    return {"iss": ISSUER, "aud": RESOURCE, "exp": now + 86400, "iat": now, "sub": "u1", "scope": SCOPE} | changes


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
        "keys_max_age": mcp_auth.KEYS_MAX_AGE,
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

    monkeypatch.setattr(mcp_auth._OPENER, "open", urlopen)
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

    async def accept_any(token, may_ask=True):
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


def test_a_key_the_issuer_removed_is_refused_once_the_keys_are_read_again(mcp_auth, monkeypatch):
    """Keys are read again every KEYS_MAX_AGE seconds (DEPLOYMENT.md says how long), not only for an unknown kid."""
    jwks = {"keys": list(JWKS["keys"])}
    resource, fetched = oauth(mcp_auth, monkeypatch, jwks=jwks)
    good = token(claims())
    assert check(resource, good)["sub"] == "u1"
    jwks["keys"] = [key for key in jwks["keys"] if key["kid"] != "rsa"]  # rotated out at the issuer
    assert check(resource, good)["sub"] == "u1"  # still within KEYS_MAX_AGE of the last read
    resource.keys_fetched -= mcp_auth.KEYS_MAX_AGE
    assert refused(mcp_auth, resource, good) == (401, "the token is not signed by a key of the issuer")
    assert mcp_auth.KEYS_MAX_AGE == 300


@pytest.mark.parametrize(
    ("header_type", "changes", "why"),
    [
        ("JWT", {"typ": "ID"}, "a ID token, not an access token"),  # Keycloak's ID token
        ("JWT", {"typ": "Refresh"}, "a Refresh token, not an access token"),
        ("JWT", {"token_use": "id"}, "a token for id, not an access token"),  # Cognito's ID token
        ("id_token+jwt", {}, "a id_token+jwt token is not an access token"),
        ("logout+jwt", {}, "a logout+jwt token is not an access token"),
    ],
)
def test_a_token_that_says_it_is_no_access_token_is_refused(mcp_auth, monkeypatch, header_type, changes, why):
    resource, _ = oauth(mcp_auth, monkeypatch)
    signed = jwt.encode(claims(**changes), RSA_KEY, algorithm="RS256", headers={"kid": "rsa", "typ": header_type})
    assert refused(mcp_auth, resource, signed) == (401, why)


@pytest.mark.parametrize("header_type", ["JWT", "at+jwt", "application/at+jwt", None])
def test_access_tokens_of_every_common_type_pass(mcp_auth, monkeypatch, header_type):
    resource, _ = oauth(mcp_auth, monkeypatch)
    # typ None: no typ header at all (PyJWT leaves it out). Keycloak's access tokens say typ Bearer.
    signed = jwt.encode(claims(typ="Bearer"), RSA_KEY, algorithm="RS256", headers={"kid": "rsa", "typ": header_type})
    assert ("typ" in jwt.get_unverified_header(signed)) == (header_type is not None)
    assert check(resource, signed)["sub"] == "u1"


def test_fetches_follow_no_redirect_to_another_origin(mcp_auth):
    """The issuer's metadata, keys and introspection are fetched only from the origin configured: a
    redirect elsewhere (another port here; another host or plain HTTP alike) is not followed, and the
    introspection client's secret never goes there."""
    with recording_server("127.0.0.1", lambda path: (200, {"Content-Type": "application/json"}), b"{}") as (
        elsewhere,
        seen_elsewhere,
    ):
        target = f"http://127.0.0.1:{elsewhere}/introspect"
        with recording_server("127.0.0.1", lambda path: (307, {"Location": target})) as (port, seen):
            with pytest.raises(mcp_auth.Unavailable):
                mcp_auth._fetch_json(
                    f"http://127.0.0.1:{port}/introspect", data=b"token=x", headers={"Authorization": "Basic c2VjcmV0"}
                )
    assert seen and seen_elsewhere == []

    def same_origin(path):
        return (200, {"Content-Type": "application/json"}) if path == "/moved" else (301, {"Location": "/moved"})

    with recording_server("127.0.0.1", same_origin, b'{"keys": []}') as (port, seen):
        assert mcp_auth._fetch_json(f"http://127.0.0.1:{port}/jwks") == {"keys": []}
    assert [path for _, path, _ in seen] == ["/jwks", "/moved"]


def test_a_jwks_uri_that_is_not_https_is_not_used(mcp_auth, monkeypatch):
    resource, fetched = oauth(mcp_auth, monkeypatch)
    monkeypatch.setattr(resource, "issuer_metadata", lambda: {"issuer": ISSUER, "jwks_uri": "http://evil.example/jwks"})
    with pytest.raises(mcp_auth.Unavailable):
        check(resource, token(claims()))
    assert "http://evil.example/jwks" not in fetched


def test_new_tokens_are_introspected_at_a_bounded_rate(mcp_auth, monkeypatch):
    """A flood of made-up tokens reaches the authorization server at most INTROSPECTION_BURST at once,
    then INTROSPECTIONS_PER_SECOND; and a client past its refusals is not asked about at all."""
    endpoint = "https://issuer.example.com/introspect"
    resource, _ = oauth(mcp_auth, monkeypatch, introspection_url=endpoint, client_id="rs", client_secret="s")
    asked = []
    monkeypatch.setattr(resource, "ask_introspection", lambda value: asked.append(value) or {"active": False})
    started = time.monotonic()
    statuses = [refused(mcp_auth, resource, f"made-up-{number}")[0] for number in range(300)]
    # The burst, and what the rate refills while the 300 are sent (more on a loaded machine).
    bound = mcp_auth.INTROSPECTION_BURST + int(mcp_auth.INTROSPECTIONS_PER_SECOND * (time.monotonic() - started)) + 2
    assert len(asked) <= bound, (len(asked), bound)
    assert statuses.count(429) >= 300 - bound
    asked.clear()
    with pytest.raises(mcp_auth.Refused) as refusal:
        anyio.run(resource.check, "one-more", False)
    assert refusal.value.status == 429 and asked == []


def test_refusals_are_limited_per_address_and_a_valid_token_never_is(mcp_auth, tmp_path):
    """Past REFUSALS_BURST + 1 refusals in a row from one address, 429 (then one a second); a valid
    token from that very address still gets in, and another address is not limited."""
    tokens_file = tmp_path / "clients.sha256"
    tokens_file.write_text(f"{hashlib.sha256(b'good-token').hexdigest()}  client\n")
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    guarded = mcp_auth.RequireCredential(app, mcp_auth.TokenFile(tokens_file).check, ())

    def status(token, address="10.0.0.1"):
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        headers = [(b"authorization", f"Bearer {token}".encode())]
        scope = {"type": "http", "path": "/mcp", "root_path": "", "headers": headers, "query_string": b""}
        anyio.run(guarded, {**scope, "client": (address, 0)}, receive, send)
        return sent[0]["status"]

    statuses = [status("wrong") for _ in range(mcp_auth.REFUSALS_BURST + 10)]
    assert statuses[: mcp_auth.REFUSALS_BURST + 1] == [401] * (mcp_auth.REFUSALS_BURST + 1)
    # A second may pass while they are sent: one more 401 then, no more.
    assert set(statuses) == {401, 429} and statuses.count(401) <= mcp_auth.REFUSALS_BURST + 2 and statuses[-1] == 429
    assert status("good-token") == 200
    assert status("wrong", "10.0.0.2") == 401
    assert seen == ["/mcp"]
