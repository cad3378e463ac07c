"""Better Auth's own tokens: a JWT minted by a real Better Auth 1.7.25 (jwt plugin) verifies
through ``TesseraAuth(jwks_url=...)`` with issuer and audience left to their defaults (the JWKS
URL's origin, which is Better Auth's ``baseURL``), for each key-pair algorithm it signs with; the
same token is refused by a verifier expecting another audience."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from better_auth import BetterAuthServer
from helpers import bearer
from tessera_fastapi import TesseraAuth
from tessera_fastapi._b64 import decode


def header_and_claims(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return json.loads(decode(header)), json.loads(decode(payload))


@pytest.fixture(scope="module", params=["EdDSA", "ES256", "RS256"])
def better_auth(request: pytest.FixtureRequest) -> Iterator[BetterAuthServer]:
    server = BetterAuthServer(request.param).start()
    yield server
    server.close()


def test_a_better_auth_jwt_verifies_with_the_default_issuer_and_audience(better_auth, client_for):
    user_id, email, token = better_auth.sign_up_and_get_jwt()
    # Better Auth's own shape: signed with the configured algorithm, iss = aud = its baseURL.
    header, claims = header_and_claims(token)
    assert header["alg"] == better_auth.alg
    assert (claims["iss"], claims["aud"], claims["sub"]) == (better_auth.url, better_auth.url, user_id)
    auth = TesseraAuth(jwks_url=better_auth.jwks_url)
    assert auth.issuers == frozenset({better_auth.url})
    assert auth.audiences == frozenset({better_auth.url})

    client = client_for(auth)

    answer = client.get("/api/me", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json()["user_id"] == user_id
    assert answer.json()["email"] == email
    # The path check holds the Better Auth user to their own id.
    assert client.get(f"/api/{user_id}/tasks", headers=bearer(token)).status_code == 200
    assert client.get("/api/someone-else/tasks", headers=bearer(token)).status_code == 403


def test_a_better_auth_jwt_is_refused_by_a_verifier_expecting_another_audience(better_auth, client_for):
    _, _, token = better_auth.sign_up_and_get_jwt()
    auth = TesseraAuth(jwks_url=better_auth.jwks_url, audience="https://api.other.example")

    answer = client_for(auth).get("/api/me", headers=bearer(token))

    assert answer.status_code == 401, answer.text
    assert answer.json() == {"detail": "Invalid or expired token"}
    assert answer.headers.get("WWW-Authenticate") == 'Bearer error="invalid_token"'
