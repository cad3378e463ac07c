"""Sign-out through the revocation feed: a signed-out session's JWT is refused within a second."""

from __future__ import annotations

import time

from helpers import bearer
from tessera_fastapi import TesseraAuth

DEADLINE_SECONDS = 1.0


def refused_within(client, token: str, seconds: float) -> float | None:
    """Seconds until ``/api/me`` refuses ``token``, polling until the deadline; ``None`` if it never did."""
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        if client.get("/api/me", headers=bearer(token)).status_code == 401:
            return elapsed
        time.sleep(0.02)
    return None


def test_a_signed_out_sessions_jwt_is_refused_within_a_second_through_the_feed(eddsa_server, client_for):
    auth = TesseraAuth(jwks_url=eddsa_server.jwks_url, revocations_url=eddsa_server.revocations_url)
    client = client_for(auth)
    leaving, staying = eddsa_server.sign_up(), eddsa_server.sign_up()
    token, other = leaving.jwt(), staying.jwt()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    leaving.sign_out()
    elapsed = refused_within(client, token, DEADLINE_SECONDS)
    assert elapsed is not None, f"still accepted {DEADLINE_SECONDS} s after sign-out"
    response = client.get("/api/me", headers=bearer(token))
    assert response.json() == {"detail": "Invalid or expired token"}
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    # Another session is untouched.
    assert client.get("/api/me", headers=bearer(other)).status_code == 200


def test_without_a_feed_a_signed_out_sessions_jwt_stays_valid_until_exp(eddsa_server, client_for):
    """The opt-in is real: the refusal above comes from the feed, not from somewhere else."""
    client = client_for(TesseraAuth(jwks_url=eddsa_server.jwks_url))
    user = eddsa_server.sign_up()
    token = user.jwt()
    user.sign_out()
    assert client.get("/api/me", headers=bearer(token)).status_code == 200


def test_revocations_already_known_stay_in_force_while_the_feed_is_down(new_server, client_for):
    server = new_server("EdDSA")
    client = client_for(TesseraAuth(jwks_url=server.jwks_url, revocations_url=server.revocations_url))
    gone, kept = server.sign_up(), server.sign_up()
    gone_token, kept_token = gone.jwt(), kept.jwt()
    assert client.get("/api/me", headers=bearer(kept_token)).status_code == 200
    gone.sign_out()
    assert refused_within(client, gone_token, DEADLINE_SECONDS) is not None
    server.stop()
    assert client.get("/api/me", headers=bearer(gone_token)).status_code == 401
    assert client.get("/api/me", headers=bearer(kept_token)).status_code == 200


def test_a_poller_not_started_in_a_lifespan_starts_on_the_first_request(eddsa_server):
    """Forgetting the lifespan must not silently turn revocations off."""
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    auth = TesseraAuth(jwks_url=eddsa_server.jwks_url, revocations_url=eddsa_server.revocations_url)
    app = FastAPI()  # no lifespan

    @app.get("/api/me")
    async def me(user=Depends(auth.current_user)):  # noqa: B008 - FastAPI's dependency injection
        return {"user_id": user.user_id}

    user = eddsa_server.sign_up()
    token = user.jwt()
    user.sign_out()
    with TestClient(app) as client:
        assert refused_within(client, token, DEADLINE_SECONDS) is not None
