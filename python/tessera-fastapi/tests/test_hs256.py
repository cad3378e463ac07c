"""HS256 mode (``TESSERA_JWT_ALG=HS256``, the brief's shared ``BETTER_AUTH_SECRET``) next to the
brief's own python-jose code, unchanged: both accept the same tokens and refuse the same forgeries."""

from __future__ import annotations

import secrets

import pytest
from helpers import TesseraServer, bearer
from jose import JWTError
from jose import jwt as jose_jwt
from tessera_fastapi import TesseraAuth


@pytest.fixture(scope="module")
def hs256_server():
    server = TesseraServer("HS256").start()
    yield server
    server.close()


def brief_verify(token: str, secret: str) -> dict:
    """The brief's middleware, as written."""
    payload = jose_jwt.decode(token, secret, algorithms=["HS256"])
    return {"user_id": payload.get("sub"), "email": payload.get("email")}


def test_an_hs256_token_verifies_here_and_with_the_briefs_python_jose_code(hs256_server, client_for):
    user = hs256_server.sign_up()
    token = user.jwt()
    assert brief_verify(token, hs256_server.secret) == {"user_id": user.id, "email": user.email}
    client = client_for(TesseraAuth(secret=hs256_server.secret))
    response = client.get(f"/api/{user.id}/tasks", headers=bearer(token))
    assert response.status_code == 200, response.text


def test_an_hs256_token_signed_with_another_secret_is_refused_by_both(hs256_server, client_for):
    token = hs256_server.sign_up().jwt()
    other = secrets.token_hex(32)
    with pytest.raises(JWTError):
        brief_verify(token, other)
    client = client_for(TesseraAuth(secret=other))
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_an_older_secret_keeps_verifying_during_a_rotation(hs256_server, client_for):
    token = hs256_server.sign_up().jwt()
    client = client_for(TesseraAuth(secret=[secrets.token_hex(32), hs256_server.secret]))
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_the_secret_mode_refuses_key_pair_tokens(eddsa_server, client_for):
    token = eddsa_server.sign_up().jwt()
    client = client_for(TesseraAuth(secret=eddsa_server.secret))
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
