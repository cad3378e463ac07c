"""JWKS interop: a Tessera JWT minted with TESSERA_JWT_ALG = EdDSA | ES256 | RS256 must verify with
PyJWT against the server's /api/auth/jwks, the way a Python backend would do it:

    key = jwt.PyJWKClient(f"{origin}/api/auth/jwks").get_signing_key_from_jwt(token)
    jwt.decode(token, key, algorithms=[alg], audience=origin, issuer=origin)

where origin is the server's BETTER_AUTH_URL (Better Auth's default iss and aud).

    TESSERA_URL=http://127.0.0.1:PORT TESSERA_JWT_ALG=ES256 python verify_jwks.py
"""

from __future__ import annotations

import base64
import json
import time

import jwt
from interop_common import Steps, env, get_jwt, http, new_credentials, sign_up

ORIGIN = env("TESSERA_URL").rstrip("/")
ALG = env("TESSERA_JWT_ALG")
JWKS_URL = f"{ORIGIN}/api/auth/jwks"
EXPECTED_KTY = {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}
if ALG not in EXPECTED_KTY:
    raise SystemExit(f"verify_jwks.py: TESSERA_JWT_ALG must be one of {sorted(EXPECTED_KTY)}, not {ALG!r}")

steps = Steps()
state: dict = {}


def step_sign_up() -> None:
    name, email, password = new_credentials()
    state["session_token"], state["user"] = sign_up(ORIGIN, name, email, password)
    state["email"] = email


def step_token() -> None:
    token = get_jwt(ORIGIN, state["session_token"])
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == ALG, f"expected alg {ALG}, header is {header!r}"
    assert isinstance(header.get("kid"), str) and header["kid"], f"no kid in header {header!r}"
    state["jwt"], state["kid"] = token, header["kid"]


def step_jwks() -> None:
    result = http("GET", JWKS_URL)
    assert result.status == 200, f"GET /api/auth/jwks failed: {result!r}"
    keys = result.json().get("keys")
    assert isinstance(keys, list) and keys, f"no keys in JWKS: {result!r}"
    by_kid = {key.get("kid"): key for key in keys}
    assert state["kid"] in by_kid, f"kid {state['kid']!r} not in JWKS kids {sorted(map(str, by_kid))}"
    key = by_kid[state["kid"]]
    assert key.get("kty") == EXPECTED_KTY[ALG], f"kty {key.get('kty')!r} for {ALG}: {key!r}"
    assert key.get("alg") == ALG, f"JWKS key alg {key.get('alg')!r} != {ALG}"
    assert "d" not in key and "p" not in key, "JWKS publishes private key material"


def step_verify() -> None:
    signing_key = jwt.PyJWKClient(JWKS_URL, cache_keys=False).get_signing_key_from_jwt(state["jwt"])
    payload = jwt.decode(state["jwt"], signing_key, algorithms=[ALG], audience=ORIGIN, issuer=ORIGIN)
    assert payload["sub"] == state["user"]["id"], f"sub {payload.get('sub')!r} != user id {state['user']['id']!r}"
    assert payload["email"] == state["email"], f"email {payload.get('email')!r} != {state['email']!r}"
    now = time.time()
    assert now < payload["exp"] <= now + 15 * 60 + 60, f"exp {payload['exp']} is not within 15 minutes of now"
    state["signing_key"] = signing_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def step_rejections() -> None:
    key = state["signing_key"]
    header, payload, signature = state["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    tampered = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    try:
        jwt.decode(tampered, key, algorithms=[ALG], audience=ORIGIN, issuer=ORIGIN)
    except jwt.InvalidSignatureError:
        pass
    else:
        raise AssertionError("a token with a changed payload verified")
    try:
        jwt.decode(state["jwt"], key, algorithms=[ALG], audience="https://other.example", issuer=ORIGIN)
    except jwt.InvalidAudienceError:
        pass
    else:
        raise AssertionError("the token verified for another audience")


steps.run(f"[{ALG}] sign-up over plain HTTP returns a session token and the user", step_sign_up)
steps.run(f"[{ALG}] GET /api/auth/token with Bearer <session token> returns a {ALG} JWT with a kid", step_token)
steps.run(f"[{ALG}] GET /api/auth/jwks publishes the token's kid with kty and alg", step_jwks)
steps.run(f"[{ALG}] PyJWT verifies signature, iss and aud via PyJWKClient; sub and email match", step_verify)
steps.run(f"[{ALG}] PyJWT rejects a tampered payload and a wrong audience", step_rejections)
steps.finish()
