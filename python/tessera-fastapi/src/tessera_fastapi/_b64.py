"""Strict base64url (RFC 7515 §2): the URL-safe alphabet, no padding, canonical trailing bits."""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")


def decode(text: str) -> bytes:
    """The bytes ``text`` encodes; ``ValueError`` unless it is the one canonical encoding of them."""
    if not _ALPHABET.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise ValueError("not unpadded base64url") from None
    # Python ignores non-zero trailing bits; two spellings of one token must not both verify.
    if encode(raw) != text:
        raise ValueError("not canonical base64url")
    return raw


def encode(raw: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
