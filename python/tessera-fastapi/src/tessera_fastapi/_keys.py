"""Verifying keys, each bound to one signature scheme, as tessera-jwt binds them.

A key's scheme comes from the key, never from the token: a JWK's ``alg`` if it names one, else
its ``kty``/``crv``; an HS256 key only from a configured secret, never from a key set (whoever
can read a key set could forge with a symmetric key in it). The token's header ``alg`` then has
to name that scheme and be allowed, so RS256→HS256 confusion or ``none`` cannot arise.

``EdDSA`` (RFC 8037) and ``Ed25519`` (RFC 9864, its fully specified name) are two names of one
scheme on an Ed25519 key: PyJWT knows only the first, so both are verified with its EdDSA
implementation, which is exact for Ed25519 keys.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jwt import PyJWK
from jwt.algorithms import Algorithm, HMACAlgorithm

from ._b64 import decode as b64decode
from ._errors import TokenRejected, UnknownKey

logger = logging.getLogger("tessera_fastapi")

#: Header ``alg`` names and the scheme each one means.
SCHEMES: Mapping[str, str] = {
    "EdDSA": "Ed25519",
    "Ed25519": "Ed25519",
    "ES256": "ES256",
    "RS256": "RS256",
    "HS256": "HS256",
}
#: The asymmetric names, allowed by default with a JWKS.
ASYMMETRIC = ("EdDSA", "Ed25519", "ES256", "RS256")
#: Secrets shorter than this fall to offline guessing (RFC 8725 §3.5).
MIN_HMAC_SECRET_BYTES = 32
MAX_KID_CHARS = 256
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192

# The PyJWT algorithm each asymmetric scheme is checked with (PyJWK builds the key object).
_PYJWT_NAME = {"Ed25519": "EdDSA", "ES256": "ES256", "RS256": "RS256"}


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """One key: its id (``None`` for a kid-less secret), its scheme and PyJWT's key object."""

    kid: str | None
    scheme: str
    algorithm: Algorithm
    key: Any

    def verifies(self, signing_input: bytes, signature: bytes) -> bool:
        """Whether ``signature`` over ``signing_input`` checks out (HMAC compares in constant time)."""
        try:
            return bool(self.algorithm.verify(signing_input, self.key, signature))
        except Exception:  # noqa: BLE001 - a malformed signature is a bad signature, whatever raised
            return False


@dataclass(frozen=True, slots=True)
class KeyRing:
    """An immutable set of keys; a new fetch makes a new ring."""

    keys: tuple[VerifyingKey, ...] = ()

    def candidates(self, kid: str | None, scheme: str) -> list[VerifyingKey]:
        """The keys with exactly this ``kid`` (kid-less ones for a kid-less token) bound to ``scheme``.

        The ``kid`` is only compared for equality, never used as a path or query. Raises
        ``UnknownKey`` when no key has the id, so the caller may refetch once.
        """
        named = [key for key in self.keys if key.kid == kid]
        if not named:
            raise UnknownKey()
        bound = [key for key in named if key.scheme == scheme]
        if not bound:
            raise TokenRejected("the key is bound to another algorithm")
        return bound


def hmac_ring(secrets: Sequence[str | bytes]) -> KeyRing:
    """HS256 keys from shared secrets, newest first; each must be at least 32 bytes."""
    keys = []
    for secret in secrets:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if len(raw) < MIN_HMAC_SECRET_BYTES:
            raise ValueError(f"HS256 secrets must be at least {MIN_HMAC_SECRET_BYTES} bytes long")
        keys.append(VerifyingKey(None, "HS256", HMACAlgorithm(HMACAlgorithm.SHA256), raw))
    if not keys:
        raise ValueError("at least one HS256 secret is required")
    return KeyRing(tuple(keys))


def ring_from_jwks(document: Any) -> KeyRing:
    """The usable public keys of a JWKS document; entries that cannot be used are skipped and logged.

    Raises ``ValueError`` when the document is not a JWKS at all.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('not a JWKS document (no "keys" array)')
    keys = []
    for index, jwk in enumerate(document["keys"]):
        try:
            keys.append(_from_jwk(jwk))
        except ValueError as error:
            # The kid is publisher-controlled text: log the entry's position, not its value.
            logger.warning("JWKS entry %d skipped: %s", index, error)
    return KeyRing(tuple(keys))


def _from_jwk(jwk: Any) -> VerifyingKey:
    if not isinstance(jwk, dict):
        raise ValueError("not a JSON object")
    scheme = _bind_scheme(jwk)
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise ValueError("key use is not sig")
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
        raise ValueError("kid is not a string of at most 256 characters")
    if scheme == "RS256":
        _check_rsa(jwk)
    # Only the public members: a published private part must not turn this into a signing key.
    public = {name: jwk[name] for name in ("kty", "crv", "x", "y", "n", "e") if name in jwk}
    try:
        parsed = PyJWK(public, algorithm=_PYJWT_NAME[scheme])
    except Exception as error:  # noqa: BLE001 - PyJWT raises several types for a bad key
        raise ValueError(f"unusable {scheme} key ({type(error).__name__})") from None
    return VerifyingKey(kid, scheme, parsed.Algorithm, parsed.key)


def _bind_scheme(jwk: dict[str, Any]) -> str:
    """tessera-jwt's ``bind_algorithm``: the declared ``alg``, else the key type, and they must fit."""
    kty, crv, declared = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    if kty == "oct":
        raise ValueError("symmetric (oct) keys are never taken from a key set")
    if declared is not None:
        if not isinstance(declared, str) or declared not in SCHEMES or declared == "HS256":
            raise ValueError("unsupported alg")
        scheme = SCHEMES[declared]
    elif kty == "OKP" and crv == "Ed25519":
        scheme = "Ed25519"
    elif kty == "EC" and crv == "P-256":
        scheme = "ES256"
    elif kty == "RSA":
        scheme = "RS256"
    else:
        raise ValueError("unsupported key type or curve")
    fits = {
        "Ed25519": kty == "OKP" and crv == "Ed25519",
        "ES256": kty == "EC" and crv == "P-256",
        "RS256": kty == "RSA",
    }[scheme]
    if not fits:
        raise ValueError(f"key type or curve does not fit {scheme}")
    return scheme


def _check_rsa(jwk: dict[str, Any]) -> None:
    n = jwk.get("n")
    if not isinstance(n, str):
        raise ValueError("RSA key without n")
    bits = int.from_bytes(b64decode(n), "big").bit_length()
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise ValueError(f"RSA modulus of {bits} bits (allowed: {MIN_RSA_BITS} to {MAX_RSA_BITS})")
