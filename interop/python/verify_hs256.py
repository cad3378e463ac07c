"""HS256 interop: a Tessera JWT minted with TESSERA_JWT_ALG=HS256 must pass, unchanged, through the
seed's FastAPI middleware, i.e. python-jose's

    payload = jwt.decode(token, BETTER_AUTH_SECRET, algorithms=["HS256"])

with no audience argument (python-jose then rejects any token that carries `aud`).

    TESSERA_URL=http://127.0.0.1:PORT BETTER_AUTH_SECRET=... python verify_hs256.py
"""

from __future__ import annotations

import time

from interop_common import Steps, env, get_jwt, new_credentials, sign_up
from jose import JWTError, jwt

BASE_URL = env("TESSERA_URL")
BETTER_AUTH_SECRET = env("BETTER_AUTH_SECRET")

# --- the seed's FastAPI middleware, as written (FastAPI's HTTPException stood in for) -------------
SECRET_KEY = BETTER_AUTH_SECRET
ALGORITHM = "HS256"


class HTTPException(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"{status_code} {detail}")
        self.status_code = status_code
        self.detail = detail


def verify_token(authorization: str | None = None) -> dict:
    """Verify JWT token and extract user info."""
    if not authorization:
        raise HTTPException(status_code=401, detail="Missing authorization header")

    try:
        # Extract token from "Bearer "
        scheme, token = authorization.split()
        if scheme.lower() != "bearer":
            raise HTTPException(status_code=401, detail="Invalid authentication scheme")

        # Verify and decode token
        payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])

        return {"user_id": payload.get("sub"), "email": payload.get("email")}

    except (JWTError, ValueError) as e:
        raise HTTPException(status_code=401, detail="Invalid or expired token") from e


# --------------------------------------------------------------------------------------------------

steps = Steps()
state: dict = {}


def step_sign_up() -> None:
    name, email, password = new_credentials()
    state["session_token"], state["user"] = sign_up(BASE_URL, name, email, password)
    state["email"] = email


def step_token() -> None:
    token = get_jwt(BASE_URL, state["session_token"])
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "HS256", f"expected an HS256 token, header is {header!r}"
    state["jwt"] = token


def step_decode() -> None:
    token = state["jwt"]
    try:
        payload = jwt.decode(token, BETTER_AUTH_SECRET, algorithms=["HS256"])
    except JWTError as error:
        claims = jwt.get_unverified_claims(token)
        hint = ""
        if "aud" in claims:
            hint = " (the token carries `aud`; python-jose without an audience argument rejects it)"
        raise AssertionError(f"python-jose rejected the token: {error}{hint}; claims {claims!r}") from error
    assert payload["sub"] == state["user"]["id"], f"sub {payload.get('sub')!r} != user id {state['user']['id']!r}"
    assert payload["email"] == state["email"], f"email {payload.get('email')!r} != {state['email']!r}"
    now = time.time()
    assert now < payload["exp"] <= now + 15 * 60 + 60, f"exp {payload['exp']} is not within 15 minutes of now"


def step_middleware() -> None:
    auth = verify_token(f"Bearer {state['jwt']}")
    assert auth == {"user_id": state["user"]["id"], "email": state["email"]}, f"middleware returned {auth!r}"


def expect_jwt_error(token: str, secret: str, what: str) -> None:
    try:
        jwt.decode(token, secret, algorithms=["HS256"])
    except JWTError:
        return
    raise AssertionError(f"{what} verified, expected JWTError")


def step_wrong_secret() -> None:
    other_secret = BETTER_AUTH_SECRET[::-1] + "-but-not-the-same"
    forged = jwt.encode(jwt.get_unverified_claims(state["jwt"]), other_secret, algorithm="HS256")
    expect_jwt_error(forged, BETTER_AUTH_SECRET, "a token signed with another secret")
    expect_jwt_error(state["jwt"], other_secret, "Tessera's token checked against another secret")
    try:
        verify_token(f"Bearer {forged}")
    except HTTPException as error:
        assert error.status_code == 401 and error.detail == "Invalid or expired token", error
    else:
        raise AssertionError("the middleware accepted a token signed with another secret")


steps.run("sign-up over plain HTTP returns a session token and the user", step_sign_up)
steps.run("GET /api/auth/token with Bearer <session token> returns an HS256 JWT", step_token)
steps.run('jose jwt.decode(token, BETTER_AUTH_SECRET, algorithms=["HS256"]) gives sub, email, 15 min exp', step_decode)
steps.run("the seed's verify_token middleware accepts the Authorization header", step_middleware)
steps.run("a token signed with a different secret raises JWTError (middleware: 401)", step_wrong_secret)
steps.finish()
