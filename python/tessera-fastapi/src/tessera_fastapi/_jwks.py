"""A JWKS fetched on demand, cached, and refreshed on an unknown ``kid`` or when stale.

The rules of tessera-guard's ``JwksCache`` (crates/tessera-guard/src/keys/cache.rs):

- the first verification fetches; later ones reuse the set until it is stale
  (``Cache-Control: max-age``, else 5 minutes, at most a day);
- a token naming an unknown ``kid`` triggers a refetch, so a rotated-in key is picked up without
  a restart;
- fetch *attempts*, successful or not, whatever triggered them, are at least ``cooldown`` apart,
  so garbage tokens with random ``kid`` values cost one fetch per cooldown, not one per request;
- fetches are single-flight: callers that need new keys wait for the one in progress and use
  its result; callers holding a merely stale set go on with it meanwhile;
- a failed fetch keeps the last good set (an auth server outage does not log everyone out).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import httpx

from ._http import FetchError, client_for, get_json, max_age
from ._keys import KeyRing, ring_from_jwks

logger = logging.getLogger("tessera_fastapi")

JWKS_MAX_BYTES = 64 * 1024


class JwksCache:
    """The key set at one URL, cached in memory. One instance serves one event loop."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float],
        cooldown: float = 10.0,
        default_max_age: float = 300.0,
        max_max_age: float = 86_400.0,
        connect_timeout: float = 2.0,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._clock = clock
        self._cooldown = cooldown
        self._default_max_age = default_max_age
        self._max_max_age = max_max_age
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._ring = KeyRing()
        self._fresh_until = float("-inf")
        self._last_attempt: float | None = None
        self._gate = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> None:
        """Locks and connections belong to one event loop: a new loop gets new ones (keys stay)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._gate, self._client = loop, asyncio.Lock(), None

    @property
    def current(self) -> KeyRing:
        """The ring held now, without refreshing."""
        return self._ring

    async def keys(self) -> KeyRing:
        """The ring to verify with; a stale one is refreshed first (or used while another caller does)."""
        ring = self._ring
        if self._clock() < self._fresh_until:
            return ring
        # Merely stale keys still verify while someone refreshes them; with no keys at all
        # there is nothing to go on, so wait for the fetch.
        return await self._refresh_from(ring, wait=not ring.keys)

    async def refresh(self, seen: KeyRing) -> KeyRing | None:
        """After a token named a ``kid`` that ``seen`` lacks: the ring to retry with, if a new one came."""
        ring = await self._refresh_from(seen, wait=True)
        return None if ring is seen else ring

    async def prefetch(self) -> None:
        """Fetches now unless within the cooldown; raises ``FetchError`` on failure.

        A failed prefetch does not start the cooldown: an auth server that comes up a little
        after this process is fetched from on the first request, not a cooldown later.
        """
        self._bind_loop()
        async with self._gate:
            now = self._clock()
            if self._cooling_down(now):
                return
            before = self._last_attempt
            try:
                await self._fetch_locked(now)
            except FetchError:
                self._last_attempt = before
                raise

    async def aclose(self) -> None:
        """Closes the HTTP client (a later fetch opens a new one)."""
        self._bind_loop()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _cooling_down(self, now: float) -> bool:
        last = self._last_attempt
        # A clock that went backwards ends the cooldown rather than extending it indefinitely.
        return last is not None and last <= now < last + self._cooldown

    async def _refresh_from(self, seen: KeyRing, *, wait: bool) -> KeyRing:
        self._bind_loop()
        if self._cooling_down(self._clock()):
            return self._ring
        if not wait and self._gate.locked():
            # Stale-while-revalidate: a slow auth server delays one request, not all of them.
            return self._ring
        async with self._gate:
            if self._ring is not seen:
                # A fetch finished while we waited for the gate: use its result.
                return self._ring
            now = self._clock()
            if self._cooling_down(now):
                return self._ring
            try:
                return await self._fetch_locked(now)
            except FetchError:
                return self._ring

    async def _fetch_locked(self, now: float) -> KeyRing:
        """One fetch attempt; the caller holds the gate."""
        if self._client is None:
            self._client = client_for(self.url, connect_timeout=self._connect_timeout, timeout=self._timeout)
        try:
            fetched = await get_json(self._client, self.url, JWKS_MAX_BYTES)
            ring = ring_from_jwks(fetched.document)
        except (FetchError, ValueError) as error:
            logger.warning("JWKS fetch failed; keeping the last good key set: %s", error)
            raise FetchError(str(error)) from None
        finally:
            self._last_attempt = now
        age = max_age(fetched.headers)
        age = min(self._default_max_age if age is None else age, self._max_max_age)
        self._ring, self._fresh_until = ring, now + age
        logger.debug("JWKS fetched: %d keys, fresh for %.0f s", len(ring.keys), age)
        return ring
