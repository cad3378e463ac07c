"""The one hardened HTTP client behind both remote sources (JWKS, revocation feed).

Its answers decide which signatures are trusted and which sessions are dead, and it runs inside
request handling, so, like tessera-guard's: https only (plain http only to loopback or when
explicitly allowed), connect and total timeouts, no redirects (a redirect could move trust to
another host), no proxy from the environment for loopback, no cookies, bodies read chunk by
chunk under a size cap.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

USER_AGENT = "tessera-fastapi/0.1"


class FetchError(Exception):
    """A GET failed: transport, status, size or document. The message names no URL or token."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A JSON document and the response headers it came with."""

    document: Any
    headers: httpx.Headers


def check_url(url: str, *, allow_insecure_http: bool) -> str:
    """``url`` if it is absolute http(s), and https unless loopback or explicitly allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    if parts.scheme == "http" and not (is_loopback(url) or allow_insecure_http):
        raise ValueError(f"{url!r}: plain http is only allowed to loopback hosts; use https")
    return url


def origin_of(url: str) -> str:
    """``scheme://host[:port]``, as Better Auth derives its issuer and audience."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def is_loopback(url: str) -> bool:
    """Whether ``url`` names ``localhost``, ``127.0.0.0/8`` or ``[::1]``."""
    host = urlsplit(url).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_for(url: str, *, connect_timeout: float, timeout: float) -> httpx.AsyncClient:
    """A client for ``url``: no redirects, the timeouts, and no environment proxy for loopback."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        follow_redirects=False,
        # A proxy from the environment cannot reach our loopback, and must not see it.
        trust_env=not is_loopback(url),
        headers={"accept": "application/json", "user-agent": USER_AGENT},
    )


async def get_json(
    client: httpx.AsyncClient, url: str, max_bytes: int, params: dict[str, str] | None = None
) -> Fetched:
    """GETs ``url`` as JSON, refusing non-2xx answers and bodies over ``max_bytes``."""
    try:
        async with client.stream("GET", url, params=params) as response:
            if not response.is_success:
                raise FetchError(f"unexpected HTTP status {response.status_code}")
            length = response.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"response larger than {max_bytes} bytes")
            # Chunk by chunk, so a lying or absent Content-Length cannot make us buffer more.
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise FetchError(f"response larger than {max_bytes} bytes")
            headers = response.headers
    except httpx.HTTPError as error:
        raise FetchError(f"request failed: {type(error).__name__}") from None
    try:
        document = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FetchError("the response is not JSON") from None
    return Fetched(document, headers)


def max_age(headers: httpx.Headers) -> float | None:
    """``Cache-Control: max-age``; ``no-store``/``no-cache`` mean zero; the smallest wins; ``None`` if absent."""
    found: int | None = None
    for value in headers.get_list("cache-control"):
        for raw in value.split(","):
            directive = raw.strip()
            seconds: int | None = None
            if directive.lower() in ("no-store", "no-cache"):
                seconds = 0
            else:
                name, _, text = directive.partition("=")
                text = text.strip().strip('"')
                if name.strip().lower() == "max-age" and text.isdigit():
                    seconds = int(text)
            if seconds is not None:
                found = seconds if found is None else min(found, seconds)
    return None if found is None else float(found)
