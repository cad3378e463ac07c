"""What a refused request is answered with, in the brief's FastAPI shape and words.

The texts, statuses and challenges are tessera-guard's (crates/tessera-guard/src/error.rs), so a
frontend written for either backend reads both unchanged. The answer never says *why* a token
was refused: the reason is logged at debug level, the client only learns "invalid".
"""

from __future__ import annotations

import enum

from fastapi import HTTPException


class Refusal(enum.Enum):
    """Why a request was refused: (status, detail, ``WWW-Authenticate`` challenge)."""

    MISSING_HEADER = (401, "Missing authorization header", "Bearer")
    INVALID_SCHEME = (401, "Invalid authentication scheme", "Bearer")
    # RFC 6750 §3.1: an error code only once a bearer token was actually presented.
    INVALID_TOKEN = (401, "Invalid or expired token", 'Bearer error="invalid_token"')
    FORBIDDEN = (403, "Cannot access other user's data", None)

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.value[0]

    @property
    def detail(self) -> str:
        """The ``detail`` of the JSON body."""
        return self.value[1]

    def exception(self) -> HTTPException:
        """The ``HTTPException`` FastAPI answers as ``{"detail": "…"}`` with these headers."""
        # An auth failure must never be cached by a proxy and replayed to someone else.
        headers = {"Cache-Control": "no-store"}
        challenge = self.value[2]
        if challenge is not None:
            headers["WWW-Authenticate"] = challenge
        return HTTPException(status_code=self.status, detail=self.detail, headers=headers)


class TokenRejected(Exception):
    """A bearer token did not verify. ``reason`` is a fixed string, never a value from the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownKey(TokenRejected):
    """The token names a ``kid`` the key set lacks: worth one refetch of the JWKS."""

    def __init__(self) -> None:
        super().__init__("unknown key id")
