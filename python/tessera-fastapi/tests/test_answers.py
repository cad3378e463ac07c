"""What a FastAPI app protected by TesseraAuth answers, against tokens from a real Tessera."""

from __future__ import annotations

import json

import pytest
from helpers import ManualClock, bearer
from tessera_fastapi import TesseraAuth
from tessera_fastapi._b64 import decode, encode

CHALLENGE = "WWW-Authenticate"


def assert_refused(response, status: int, detail: str, challenge: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.json() == {"detail": detail}
    assert response.headers.get(CHALLENGE) == challenge
    assert response.headers["cache-control"] == "no-store"


def test_a_valid_token_of_each_key_pair_algorithm_returns_its_user(key_pair_server, client_for):
    user = key_pair_server.sign_up()
    client = client_for(TesseraAuth(jwks_url=key_pair_server.jwks_url))
    response = client.get("/api/me", headers=bearer(user.jwt()))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["user_id"], body["email"]) == (user.id, user.email)
    assert isinstance(body["session_id"], str) and body["session_id"]


def test_issuer_and_audience_default_to_the_jwks_urls_origin(eddsa_server):
    auth = TesseraAuth(jwks_url=eddsa_server.jwks_url)
    assert auth.issuers == auth.audiences == frozenset([eddsa_server.url])


def test_the_owner_reaches_their_path_and_anyone_else_gets_403(eddsa_server, client_for):
    alice, bob = eddsa_server.sign_up(), eddsa_server.sign_up()
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    token = alice.jwt()
    own = client.get(f"/api/{alice.id}/tasks", headers=bearer(token))
    assert own.status_code == 200 and own.json() == [alice.id]
    assert_refused(client.get(f"/api/{bob.id}/tasks", headers=bearer(token)), 403,
                   "Cannot access other user's data", None)


def test_no_authorization_header_is_401_missing_header_with_a_bare_challenge(eddsa_server, client_for):
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    assert_refused(client.get("/api/me"), 401, "Missing authorization header", "Bearer")
    assert_refused(client.get("/api/me", headers={"authorization": ""}), 401, "Missing authorization header", "Bearer")


def test_another_scheme_is_401_invalid_scheme(eddsa_server, client_for):
    user = eddsa_server.sign_up()
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    response = client.get("/api/me", headers={"authorization": f"Basic {user.jwt()}"})
    assert_refused(response, 401, "Invalid authentication scheme", "Bearer")
    # The scheme's letter case does not matter, as in the brief's `scheme.lower() != "bearer"`.
    assert client.get("/api/me", headers={"authorization": f"bEaReR {user.jwt()}"}).status_code == 200


@pytest.mark.parametrize("value", ["Bearer", "Bearer a b", "justonewordtoken"])
def test_a_header_that_is_not_two_words_is_401_invalid_token(eddsa_server, client_for, value):
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    assert_refused(client.get("/api/me", headers={"authorization": value}), 401, "Invalid or expired token",
                   'Bearer error="invalid_token"')


def tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(decode(payload))
    claims["sub"] = "someone-else"
    return ".".join([header, encode(json.dumps(claims).encode()), signature])


def test_tampered_garbage_and_none_tokens_are_401_invalid_token(eddsa_server, client_for):
    token = eddsa_server.sign_up().jwt()
    header, payload, _ = token.split(".")
    none_header = encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    for bad in [tampered(token), "not.a.jwt", token + "x", f"{none_header}.{payload}.", f"{header}.{payload}."]:
        assert_refused(client.get("/api/me", headers=bearer(bad)), 401, "Invalid or expired token",
                       'Bearer error="invalid_token"')


def test_an_expired_token_is_401_and_leeway_is_capped_at_a_minute(eddsa_server, client_for):
    token = eddsa_server.sign_up().jwt()
    clock = ManualClock()
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url, clock=clock, leeway=3600))
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    clock.advance(15 * 60 + 30)  # 30 s past exp: inside the leeway
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    clock.advance(60)  # 90 s past exp: inside the hour asked for, beyond the 60 s cap
    assert_refused(client.get("/api/me", headers=bearer(token)), 401, "Invalid or expired token",
                   'Bearer error="invalid_token"')


def test_a_token_for_another_audience_or_issuer_is_401(eddsa_server, client_for):
    token = eddsa_server.sign_up().jwt()
    for auth in [
        TesseraAuth(jwks_url=eddsa_server.jwks_url, audience="https://api.example.com"),
        # A prefix of the real issuer is not the issuer.
        TesseraAuth(jwks_url=eddsa_server.jwks_url, issuer=eddsa_server.url[:-1]),
    ]:
        assert client_for(auth).get("/api/me", headers=bearer(token)).status_code == 401


def test_an_hs256_token_signed_with_the_published_public_key_is_refused(eddsa_server, client_for):
    """RS256/EdDSA → HS256 confusion: the key set binds each key to its own algorithm."""
    import hashlib
    import hmac

    from helpers import http_call

    token = eddsa_server.sign_up().jwt()
    header = json.loads(decode(token.split(".")[0]))
    jwks_text = http_call("GET", eddsa_server.jwks_url).body
    forged_header = encode(json.dumps({"alg": "HS256", "kid": header["kid"]}).encode())
    payload = token.split(".")[1]
    signing_input = f"{forged_header}.{payload}".encode()
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    for secret in [jwks_text, json.dumps(json.loads(jwks_text)["keys"][0]).encode()]:
        forged = f"{forged_header}.{payload}.{encode(hmac.new(secret, signing_input, hashlib.sha256).digest())}"
        assert client.get("/api/me", headers=bearer(forged)).status_code == 401


def test_a_route_using_require_path_user_without_user_id_fails_closed(eddsa_server, client_for):
    token = eddsa_server.sign_up().jwt()
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    assert client.get("/api/no-user-in-path", headers=bearer(token)).status_code == 500


def test_mixing_hs256_with_key_pair_algorithms_is_refused_at_construction():
    with pytest.raises(ValueError, match="HS256"):
        TesseraAuth(jwks_url="http://127.0.0.1:1/api/auth/jwks", algorithms=["EdDSA", "HS256"])
    with pytest.raises(ValueError, match="HS256"):
        TesseraAuth(secret="s" * 32, algorithms=["HS256", "RS256"])
    with pytest.raises(ValueError, match="exactly one"):
        TesseraAuth(jwks_url="http://127.0.0.1:1/api/auth/jwks", secret="s" * 32)
    with pytest.raises(ValueError, match="32 bytes"):
        TesseraAuth(secret="short")
    with pytest.raises(ValueError, match="https"):
        TesseraAuth(jwks_url="http://auth.example.com/api/auth/jwks")
