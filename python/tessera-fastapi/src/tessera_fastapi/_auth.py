"""``TesseraAuth``: the verifier a FastAPI app holds, and its dependencies."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any

from fastapi import Request, Security
from fastapi.security import HTTPBearer

from ._errors import Refusal, TokenRejected, UnknownKey
from ._http import check_url, origin_of
from ._jwks import JwksCache
from ._keys import ASYMMETRIC, SCHEMES, KeyRing, hmac_ring
from ._revocations import RevocationPoller
from ._verify import MAX_LEEWAY_SECONDS, Policy, verify

logger = logging.getLogger("tessera_fastapi")

# Declared only so OpenAPI (and Swagger UI's "Authorize") knows the routes take a bearer token;
# the header is parsed below, the brief's way, not by HTTPBearer.
_BEARER = Security(HTTPBearer(auto_error=False, description="A JWT from the auth server's /api/auth/token"))
_BLANKS = re.compile(r"[ \t]+")


@dataclass(frozen=True, slots=True)
class TesseraUser:
    """The caller, as a verified token says. Only ever made by ``TesseraAuth``."""

    #: The token's ``sub``: the user id, never empty.
    user_id: str
    #: The ``email`` claim, if the token carries one as a string.
    email: str | None
    #: The ``sid`` claim: the auth server session the token was minted for (Tessera's tokens
    #: carry it; Better Auth's do not).
    session_id: str | None
    #: Every claim, as signed (read-only).
    claims: MappingProxyType[str, Any] = field(repr=False)


class TesseraAuth:
    """Verifies the bearer tokens of a Tessera (or Better Auth) server, offline.

    Give it the auth server's JWKS URL (EdDSA, ES256, RS256 key pairs) *or* the shared
    ``BETTER_AUTH_SECRET`` (HS256), never both. With a JWKS the expected issuer and audience
    default to the URL's origin (Better Auth's convention: ``iss`` = ``aud`` = the origin of its
    base URL); with a secret neither is checked unless given. With ``revocations_url`` (Tessera's
    ``/api/auth/revocations``) the JWTs of a signed-out or revoked session are refused within a
    poll interval: start the poller in the app's lifespan (``FastAPI(lifespan=auth.lifespan)``,
    or ``async with auth:`` inside your own).

    One instance serves one event loop at a time (one per uvicorn worker, as usual).
    """

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        secret: str | bytes | Sequence[str | bytes] | None = None,
        issuer: str | Sequence[str] | None = None,
        audience: str | Sequence[str] | None = None,
        revocations_url: str | None = None,
        leeway: float = 0.0,
        algorithms: Sequence[str] | None = None,
        jwks_cooldown: float = 10.0,
        revocation_interval: float = 0.5,
        allow_insecure_http: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Checks the settings; nothing is fetched until the first request (or ``start``).

        ``secret`` may be a list, newest first, so tokens signed with a retired secret keep
        verifying during a rotation. ``leeway`` is the clock skew allowed on ``exp``/``nbf``
        (at most 60 s). ``algorithms`` narrows the default allow-list (EdDSA, Ed25519, ES256,
        RS256 with a JWKS; HS256 with a secret) and may not mix HS256 with the others.
        ``allow_insecure_http`` permits plain http to a non-loopback auth server (anyone on the
        path could then substitute keys or hide revocations). ``clock`` (Unix seconds) is for
        tests.
        """
        if (jwks_url is None) == (secret is None):
            raise ValueError("TesseraAuth needs jwks_url=… (key pairs) or secret=… (HS256), exactly one")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self._clock = clock
        self._jwks: JwksCache | None = None
        self._static: KeyRing | None = None
        if jwks_url is not None:
            check_url(jwks_url, allow_insecure_http=allow_insecure_http)
            self._jwks = JwksCache(jwks_url, clock=clock, cooldown=jwks_cooldown)
            allowed = tuple(ASYMMETRIC if algorithms is None else algorithms)
            if issuer is None:
                issuer = origin_of(jwks_url)
            if audience is None:
                audience = origin_of(jwks_url)
        else:
            secrets = [secret] if isinstance(secret, str | bytes) else list(secret or ())
            self._static = hmac_ring(secrets)
            allowed = tuple(("HS256",) if algorithms is None else algorithms)
        unknown = [name for name in allowed if name not in SCHEMES]
        if unknown or not allowed:
            raise ValueError(f"algorithms must be some of {sorted(SCHEMES)}, not {list(allowed)}")
        # RFC 8725 §3.1: symmetric *or* asymmetric, never both in one list.
        if "HS256" in allowed and (len(set(allowed)) > 1 or self._jwks is not None):
            raise ValueError("HS256 goes with secret=… alone, never beside the key-pair algorithms")
        if self._static is not None and "HS256" not in allowed:
            raise ValueError("secret=… verifies HS256 tokens only")
        self._policy = Policy(
            algorithms=frozenset(allowed),
            issuers=_names(issuer),
            audiences=_names(audience),
            leeway=min(float(leeway), MAX_LEEWAY_SECONDS),
        )
        self._revocations: RevocationPoller | None = None
        if revocations_url is not None:
            check_url(revocations_url, allow_insecure_http=allow_insecure_http)
            self._revocations = RevocationPoller(revocations_url, clock=clock, interval=revocation_interval)

    @property
    def issuers(self) -> frozenset[str] | None:
        """The accepted ``iss`` values (``None``: not checked)."""
        return self._policy.issuers

    @property
    def audiences(self) -> frozenset[str] | None:
        """The accepted ``aud`` values (``None``: not checked)."""
        return self._policy.audiences

    # ---------------------------------------------------------------------------------------
    # Lifecycle

    async def start(self) -> None:
        """Fetches the JWKS once (a failure is logged; the first request tries again) and starts
        the revocation poller after one poll, so no request is answered before the feed was read."""
        if self._jwks is not None:
            try:
                await self._jwks.prefetch()
            except Exception as error:  # noqa: BLE001 - logged; verification fetches again
                logger.warning("JWKS not fetched at start-up (the first request tries again): %s", error)
        if self._revocations is not None:
            await self._revocations.start()

    async def aclose(self) -> None:
        """Stops the poller and closes the HTTP clients."""
        if self._revocations is not None:
            await self._revocations.aclose()
        if self._jwks is not None:
            await self._jwks.aclose()

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """``FastAPI(lifespan=auth.lifespan)``: ``start`` before serving, ``aclose`` after."""
        await self.start()
        try:
            yield
        finally:
            await self.aclose()

    async def __aenter__(self) -> TesseraAuth:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ---------------------------------------------------------------------------------------
    # Verification

    async def verify(self, token: str) -> TesseraUser:
        """The user ``token`` (the part after ``Bearer``) names, or ``TokenRejected``.

        A token naming a ``kid`` the cached set lacks refetches the JWKS once (rate-limited by
        the cooldown) and is checked again. With a revocation feed, a valid token whose ``sid``
        is listed is then refused as well.
        """
        if self._revocations is not None and not self._revocations.running:
            # Not started in a lifespan: start here, so revocations are never silently off.
            await self._revocations.start()
        if self._jwks is None:
            assert self._static is not None
            claims = verify(token, self._static, self._policy, self._clock())
        else:
            ring = await self._jwks.keys()
            try:
                claims = verify(token, ring, self._policy, self._clock())
            except UnknownKey:
                fresh = await self._jwks.refresh(ring)
                if fresh is None:
                    raise
                claims = verify(token, fresh, self._policy, self._clock())
        sid = claims.get("sid")
        session_id = sid if isinstance(sid, str) else None
        # Only once the signature and claims hold: a forged token learns nothing here.
        if session_id is not None and self._revocations is not None and self._revocations.is_revoked(session_id):
            raise TokenRejected("session revoked")
        email = claims.get("email")
        return TesseraUser(
            user_id=claims["sub"],
            email=email if isinstance(email, str) else None,
            session_id=session_id,
            claims=MappingProxyType(claims),
        )

    async def authenticate(self, authorization: Sequence[str]) -> TesseraUser:
        """Checks the values of the request's ``Authorization`` headers the brief's way.

        No (or an empty) header: 401 ``Missing authorization header``. A value that is not
        exactly two words (``scheme, token = value.split()`` fails), several headers, or a token
        that does not verify: 401 ``Invalid or expired token``. A scheme other than ``Bearer``
        (any letter case): 401 ``Invalid authentication scheme``. Raises ``HTTPException``.
        """
        if not authorization or (len(authorization) == 1 and not authorization[0]):
            raise Refusal.MISSING_HEADER.exception()
        if len(authorization) > 1 or not authorization[0].isascii():
            # Several headers: refuse rather than guess which one counts.
            raise Refusal.INVALID_TOKEN.exception()
        words = _BLANKS.split(authorization[0].strip(" \t"))
        if len(words) != 2:
            raise Refusal.INVALID_TOKEN.exception()
        scheme, token = words
        if scheme.lower() != "bearer":
            raise Refusal.INVALID_SCHEME.exception()
        try:
            return await self.verify(token)
        except TokenRejected as rejected:
            # A fixed string: never the token or a value taken from it.
            logger.debug("bearer token rejected: %s", rejected.reason)
            raise Refusal.INVALID_TOKEN.exception() from None

    async def current_user(self, request: Request, _bearer: Any = _BEARER) -> TesseraUser:
        """``Depends(auth.current_user)``: the verified user, or the brief's 401."""
        return await self.authenticate(request.headers.getlist("authorization"))

    async def require_path_user(self, request: Request, _bearer: Any = _BEARER) -> TesseraUser:
        """``Depends(auth.require_path_user)``: like ``current_user``, and the route's ``{user_id}``
        must be the token's user (403 ``Cannot access other user's data``)."""
        user = await self.authenticate(request.headers.getlist("authorization"))
        path_user = request.path_params.get("user_id")
        if path_user is None:
            # A wiring bug, answered 500 rather than letting every user in.
            raise RuntimeError(f"require_path_user on a route without a {{user_id}} parameter: {request.url.path}")
        if path_user != user.user_id:
            raise Refusal.FORBIDDEN.exception()
        return user


def _names(value: str | Sequence[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset([value] if isinstance(value, str) else value)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError("issuer and audience must be non-empty strings")
    return names
