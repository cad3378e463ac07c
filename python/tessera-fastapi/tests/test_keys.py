"""The key set: rotation picked up by one refetch, the cooldown against floods of unknown ``kid``s,
the last good set while the auth server is down, and EdDSA under its RFC 9864 name."""

from __future__ import annotations

import json
import secrets
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from helpers import CountingProxy, JsonServer, ManualClock, TesseraServer, bearer
from tessera_fastapi import TesseraAuth
from tessera_fastapi._b64 import decode, encode

JWKS_PATH = "/api/auth/jwks"


def kid_of(token: str) -> str:
    return json.loads(decode(token.split(".")[0]))["kid"]


def with_kid(token: str, kid: str) -> str:
    header, payload, signature = token.split(".")
    new_header = json.loads(decode(header)) | {"kid": kid}
    return ".".join([encode(json.dumps(new_header).encode()), payload, signature])


def counted_auth(server: TesseraServer, proxy: CountingProxy, clock: ManualClock) -> TesseraAuth:
    # The verifier asks the proxy; iss/aud stay the auth server's own origin.
    return TesseraAuth(jwks_url=proxy.url + JWKS_PATH, issuer=server.url, audience=server.url, clock=clock)


def test_a_key_rotated_in_is_picked_up_by_exactly_one_refetch(new_server, client_for):
    server = new_server("EdDSA")
    proxy = CountingProxy(server.url)
    try:
        clock = ManualClock()
        client = client_for(counted_auth(server, proxy, clock))
        assert proxy.counts[JWKS_PATH] == 1  # the lifespan's prefetch
        user = server.sign_up()
        old = user.jwt()
        assert client.get("/api/me", headers=bearer(old)).status_code == 200

        # `tessera keys rotate` with the server's settings; a restart makes it sign with the new
        # key at once (a running server switches within 30 s).
        server.rotate_keys()
        server.stop()
        server.start()
        new = user.jwt()
        assert kid_of(new) != kid_of(old)
        assert proxy.counts[JWKS_PATH] == 1

        clock.advance(11)  # past the 10 s cooldown since the prefetch, well inside max-age
        assert client.get("/api/me", headers=bearer(new)).status_code == 200
        assert proxy.counts[JWKS_PATH] == 2
        for token in [new, old, new]:  # the old key stays published for its grace period
            assert client.get("/api/me", headers=bearer(token)).status_code == 200
        assert proxy.counts[JWKS_PATH] == 2
    finally:
        proxy.close()


def test_unknown_kids_cost_one_fetch_per_cooldown_however_many_arrive(new_server, client_for):
    server = new_server("EdDSA")
    proxy = CountingProxy(server.url)
    try:
        clock = ManualClock()
        client = client_for(counted_auth(server, proxy, clock))
        token = server.sign_up().jwt()
        for _ in range(30):
            forged = with_kid(token, secrets.token_hex(8))
            assert client.get("/api/me", headers=bearer(forged)).status_code == 401
        assert proxy.counts[JWKS_PATH] == 1  # all inside the prefetch's cooldown
        clock.advance(11)
        for _ in range(30):
            forged = with_kid(token, secrets.token_hex(8))
            assert client.get("/api/me", headers=bearer(forged)).status_code == 401
        assert proxy.counts[JWKS_PATH] == 2
        assert client.get("/api/me", headers=bearer(token)).status_code == 200
    finally:
        proxy.close()


def test_tokens_keep_verifying_with_the_cached_keys_while_the_auth_server_is_down(new_server, client_for):
    server = new_server("ES256")
    clock = ManualClock()
    client = client_for(TesseraAuth(jwks_url=server.jwks_url, clock=clock))
    token = server.sign_up().jwt()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    server.stop()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    # Stale now (max-age 300 s): the refetch fails and the last good set is kept.
    clock.advance(301)
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    # A kid nobody knows is still refused, not an error.
    assert client.get("/api/me", headers=bearer(with_kid(token, "gone"))).status_code == 401
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_an_auth_server_that_comes_up_after_the_app_is_fetched_from_on_the_first_request(client_for):
    server = TesseraServer("RS256")
    try:
        client = client_for(TesseraAuth(jwks_url=server.jwks_url))  # the prefetch fails: nothing listens
        server.start()
        token = server.sign_up().jwt()
        assert client.get("/api/me", headers=bearer(token)).status_code == 200
    finally:
        server.close()


def ed25519_token(key: Ed25519PrivateKey, alg: str, kid: str, origin: str) -> str:
    header = encode(json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode())
    now = int(time.time())
    claims = {"sub": "user-1", "iss": origin, "aud": origin, "iat": now, "exp": now + 60}
    payload = encode(json.dumps(claims).encode())
    return f"{header}.{payload}.{encode(key.sign(f'{header}.{payload}'.encode()))}"


def test_an_ed25519_key_verifies_tokens_named_eddsa_or_ed25519_rfc_9864(client_for):
    key = Ed25519PrivateKey.generate()
    x = encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    keys = [
        {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "plain"},
        {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "named", "alg": "Ed25519"},
        {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "old-name", "alg": "EdDSA"},
    ]
    jwks = JsonServer({"keys": keys})
    try:
        client = client_for(TesseraAuth(jwks_url=jwks.url + JWKS_PATH))
        narrow = client_for(TesseraAuth(jwks_url=jwks.url + JWKS_PATH, algorithms=["EdDSA"]))
        for kid in ["plain", "named", "old-name"]:
            for alg in ["EdDSA", "Ed25519"]:
                token = ed25519_token(key, alg, kid, jwks.url)
                response = client.get("/api/me", headers=bearer(token))
                assert response.status_code == 200, (kid, alg, response.text)
                # No `sid` (a Better Auth token): verifies, with no session id.
                assert response.json() == {"user_id": "user-1", "email": None, "session_id": None}
            # The allow-list is by name: without "Ed25519" in it, that name is refused.
            for alg, status in [("Ed25519", 401), ("EdDSA", 200)]:
                token = ed25519_token(key, alg, kid, jwks.url)
                assert narrow.get("/api/me", headers=bearer(token)).status_code == status
        # A token under ES256 for an Ed25519 key: the key decides, not the header.
        token = ed25519_token(key, "ES256", "plain", jwks.url)
        assert client.get("/api/me", headers=bearer(token)).status_code == 401
    finally:
        jwks.close()
