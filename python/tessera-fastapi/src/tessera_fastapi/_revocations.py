"""Following Tessera's revocation feed, as tessera-guard's ``RevocationPoller`` does.

The feed is ``GET <url>?since=<cursor>`` (``/api/auth/revocations``), answering
``{"revoked": ["<sid>", …], "cursor": "<opaque>", "more": <bool>, "ttl": <seconds>}``: the
sessions ended after ``cursor``, the cursor to send next, whether another page is waiting now,
and how long a listed id must be kept (the JWT lifetime plus a minute of leeway). ``more`` and
``ttl`` are optional. A token whose ``sid`` is listed is refused like an expired one.

A poll that fails (the auth server restarting, a timeout) changes nothing: ids already known
stay revoked, no token is refused for it, and the next poll resumes from the same cursor, so
nothing published meanwhile is missed. The feed needs no credential: it lists only the random
ids of sessions that have already ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections.abc import Callable
from typing import Any

import httpx

from ._http import FetchError, client_for, get_json

logger = logging.getLogger("tessera_fastapi")

#: Pages fetched back to back in one poll when the feed says more are waiting (catching up after
#: a restart); the rest come on the next poll.
MAX_PAGES_PER_POLL = 20
#: The longest an id is kept whatever the feed says, so a confused feed cannot pin entries.
MAX_TTL_SECONDS = 30 * 24 * 3600
#: Kept when the feed names no ``ttl``: the default 15-minute token lifetime plus 60 s of leeway.
DEFAULT_TTL_SECONDS = 15 * 60 + 60
MAX_CURSOR_LEN = 128
MAX_SID_LEN = 256
FEED_MAX_BYTES = 4 * 1024 * 1024
#: Entries held at most: past it the ones closest to expiry go first, letting the fewest live
#: tokens back in.
DEFAULT_CAPACITY = 100_000


class RevocationPoller:
    """Polls the feed into an in-memory set of revoked session ids, and answers from it."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float],
        interval: float = 0.5,
        connect_timeout: float = 1.0,
        timeout: float = 2.0,
        capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.url = url
        self.interval = max(interval, 0.01)
        self._clock = clock
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._capacity = max(capacity, 1)
        self._client: httpx.AsyncClient | None = None
        self._until: dict[str, float] = {}
        self._by_expiry: list[tuple[float, str]] = []
        self._cursor: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._gate = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _bind_loop(self) -> None:
        """Locks, connections and the task belong to one event loop: a new loop gets new ones
        (the revoked ids and the cursor stay)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._gate, self._client, self._task = loop, asyncio.Lock(), None, None

    @property
    def cursor(self) -> str | None:
        """The cursor the next poll sends (``None`` before the first successful poll)."""
        return self._cursor

    @property
    def running(self) -> bool:
        """Whether the background loop is running on the current event loop."""
        return (
            self._task is not None
            and not self._task.done()
            and self._task.get_loop() is asyncio.get_running_loop()
        )

    def is_revoked(self, sid: str) -> bool:
        """Whether tokens of session ``sid`` must be refused now. Answers from memory."""
        until = self._until.get(sid)
        return until is not None and until > self._clock()

    def revoke(self, sids: list[str], ttl: float) -> int:
        """Adds ``sids`` for ``ttl`` seconds from now (a later expiry extends); returns how many were new."""
        now = self._clock()
        until = now + ttl
        self._prune(now)
        added = 0
        for sid in sids:
            known = self._until.get(sid)
            if known is None:
                added += 1
            elif known >= until:
                continue
            self._until[sid] = until
            heapq.heappush(self._by_expiry, (until, sid))
        evicted = 0
        while len(self._until) > self._capacity:
            expiry, sid = heapq.heappop(self._by_expiry)
            if self._until.get(sid) == expiry:
                del self._until[sid]
                evicted += 1
        if evicted:
            logger.warning("revocation list full: %d entries closest to expiry dropped", evicted)
        return added

    def _prune(self, now: float) -> None:
        while self._by_expiry and self._by_expiry[0][0] <= now:
            expiry, sid = heapq.heappop(self._by_expiry)
            if self._until.get(sid) == expiry:
                del self._until[sid]

    async def poll_once(self) -> int:
        """Fetches the pages since the cursor, adds their ids and advances the cursor; returns how many were new.

        Raises ``FetchError`` on failure; the cursor then stays where it was.
        """
        self._bind_loop()
        async with self._gate:
            if self._client is None:
                self._client = client_for(self.url, connect_timeout=self._connect_timeout, timeout=self._timeout)
            added = 0
            for _ in range(MAX_PAGES_PER_POLL):
                params = None if self._cursor is None else {"since": self._cursor}
                fetched = await get_json(self._client, self.url, FEED_MAX_BYTES, params)
                revoked, cursor, more, ttl = _parse_page(fetched.document)
                added += self.revoke(revoked, min(DEFAULT_TTL_SECONDS if ttl is None else ttl, MAX_TTL_SECONDS))
                self._cursor = cursor
                if not more:
                    break
            if added:
                logger.debug("%d revoked sessions received from the feed", added)
            return added

    async def start(self) -> None:
        """Polls once (a failure is logged, never raised), then polls every interval in a background task."""
        if self.running:
            return
        with contextlib.suppress(FetchError):
            await self.poll_once()
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="tessera-fastapi revocation feed")

    async def aclose(self) -> None:
        """Stops the background task and closes the HTTP client."""
        self._bind_loop()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll_once()
            except FetchError as error:
                if not failing:
                    logger.warning(
                        "revocation feed unreachable; known revocations still apply, new ones wait "
                        "until it answers: %s",
                        error,
                    )
                failing = True
            else:
                if failing:
                    logger.info("revocation feed reachable again")
                failing = False


def _parse_page(page: Any) -> tuple[list[str], str, bool, float | None]:
    """A page read leniently, but it needs a ``revoked`` array and a usable ``cursor``."""
    if not isinstance(page, dict) or not isinstance(page.get("revoked"), list):
        raise FetchError('invalid revocation feed page: no "revoked" array')
    cursor = page.get("cursor")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= MAX_CURSOR_LEN:
        raise FetchError('invalid revocation feed page: no usable "cursor"')
    revoked = [sid for sid in page["revoked"] if isinstance(sid, str) and 0 < len(sid) <= MAX_SID_LEN]
    more = page.get("more") is True
    ttl = page.get("ttl")
    usable_ttl = ttl if isinstance(ttl, int) and not isinstance(ttl, bool) and ttl >= 0 else None
    return revoked, cursor, more, None if usable_ttl is None else float(usable_ttl)
