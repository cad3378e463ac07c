"""The verification pipeline of ``tessera_jwt::verify``, step for step, on PyJWT's primitives.

PyJWT does the signature arithmetic; everything around it is here, so this package refuses what
Tessera's Rust guard refuses: oversized tokens, anything but three strict base64url parts,
duplicate JSON members, ``alg: none`` in any case, the ``crit``/``jku``/``x5u``/``x5c``/``jwk``/
``zip`` headers, an algorithm outside the allow-list or not the key's, an empty signature; then,
only once the signature holds, the claims: ``exp`` required, ``nbf``, ``iat`` a number, ``iss``
exactly one of the allowed, ``aud`` containing an allowed one, ``sub`` a non-empty string.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ._b64 import decode as b64decode
from ._errors import TokenRejected
from ._keys import MAX_KID_CHARS, SCHEMES, KeyRing

#: Tokens longer than this are refused before any decoding (bounds the work per request).
MAX_TOKEN_BYTES = 8 * 1024
#: Header members that point at keys elsewhere or change how the token must be processed. None
#: is honoured, so a token carrying one is refused rather than having it silently ignored.
FORBIDDEN_HEADERS = ("crit", "jku", "x5u", "x5c", "jwk", "zip")
#: The largest clock-skew leeway accepted, in seconds.
MAX_LEEWAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Policy:
    """What a valid token must satisfy besides its signature."""

    algorithms: frozenset[str]
    issuers: frozenset[str] | None
    audiences: frozenset[str] | None
    leeway: float


def verify(token: str, ring: KeyRing, policy: Policy, now: float) -> dict[str, Any]:
    """The verified claims of compact JWS ``token``, or ``TokenRejected`` (``UnknownKey`` for a new kid)."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("token too large")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected("token must have exactly three parts")
    header_b64, payload_b64, signature_b64 = parts
    header = _json_object(_b64(header_b64), "header")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise TokenRejected("alg is missing or not a string")
    if alg.lower() == "none":
        raise TokenRejected("alg none")
    if any(name in header for name in FORBIDDEN_HEADERS):
        raise TokenRejected("forbidden header member")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
        raise TokenRejected("kid is not a string of at most 256 characters")
    if alg not in SCHEMES or alg not in policy.algorithms:
        raise TokenRejected("algorithm not allowed")
    keys = ring.candidates(kid, SCHEMES[alg])
    if not signature_b64:
        raise TokenRejected("empty signature")
    signature = _b64(signature_b64)
    # The signing input is the ASCII text of the first two parts, exactly as received.
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    if not any(key.verifies(signing_input, signature) for key in keys):
        raise TokenRejected("bad signature")
    claims = _json_object(_b64(payload_b64), "payload")
    _check_claims(claims, policy, now)
    return claims


def _b64(part: str) -> bytes:
    try:
        return b64decode(part)
    except ValueError:
        raise TokenRejected("a part is not strict base64url") from None


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) != len(pairs):
            # Two parsers could each pick a different value of a repeated member.
            raise TokenRejected(f"duplicate member in {what}")
        return result

    try:
        value = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TokenRejected(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenRejected(f"{what} is not a JSON object")
    return value


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259); Python accepts them unless told otherwise.
    raise ValueError(name)


def _number(value: Any) -> bool:
    # JSON true/false arrive as Python bools, which are ints: not a NumericDate.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_claims(claims: dict[str, Any], policy: Policy, now: float) -> None:
    leeway = policy.leeway
    exp = claims.get("exp")
    if exp is None:
        raise TokenRejected("exp is missing")
    if not _number(exp):
        raise TokenRejected("exp is not a number")
    # RFC 7519 §4.1.4: refused *at or after* exp; fractions round towards "less valid".
    if now >= math.floor(exp) + leeway:
        raise TokenRejected("expired")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not _number(nbf):
            raise TokenRejected("nbf is not a number")
        if math.ceil(nbf) > now + leeway:
            raise TokenRejected("not yet valid")
    if "iat" in claims and not _number(claims["iat"]):
        raise TokenRejected("iat is not a number")
    iss = claims.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise TokenRejected("iss is not a string")
    if policy.issuers is not None:
        if iss is None:
            raise TokenRejected("iss is missing")
        # Exact equality; never a substring or prefix (PyJWT CVE-2024-53861).
        if iss not in policy.issuers:
            raise TokenRejected("wrong issuer")
    audiences = _audiences(claims.get("aud"))
    if policy.audiences is not None:
        if audiences is None:
            raise TokenRejected("aud is missing")
        if not any(aud in policy.audiences for aud in audiences):
            raise TokenRejected("wrong audience")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise TokenRejected("sub is missing or not a non-empty string")


def _audiences(aud: Any) -> Collection[str] | None:
    """``aud`` as a list: a string, or an array of strings (RFC 7519 §4.1.3)."""
    if aud is None:
        return None
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and all(isinstance(one, str) for one in aud):
        return aud
    raise TokenRejected("aud is not a string or an array of strings")
