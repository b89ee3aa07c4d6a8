"""A busy token looked up again before the process forgets it, once, in the background.

`tokens.recent` remembers a live token for TASKQL_TOKEN_CACHE_SECONDS. Without a refresh,
every request in flight with a busy token found it expired at the same moment and each looked
it up itself: once a second, a burst of lookups that was most of the p99 latency under load.
Half-way through that time the token is due: the first request to see it starts one lookup
here and goes on with the remembered principal, and so do the others.

One refresher per app, shared by every path that reads a token (the known-reads middleware
and the GraphQL context), so that a token is never refreshed twice at once.
"""

import asyncio
import contextvars
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.services import tokens
from db.services.tokens import Principal
from db.session import RequestSession, WriteGate

log = logging.getLogger("taskql.tokens")


class TokenRefresher:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        write_gate: WriteGate | None,
        *,
        touch_interval: timedelta,
        cache_seconds: float,
    ) -> None:
        self._session_factory = session_factory
        self._write_gate = write_gate
        self.touch_interval = touch_interval
        self.cache_seconds = cache_seconds
        self._running: dict[str, asyncio.Task[None]] = {}

    def principal(self, secret: str) -> Principal | None:
        """The remembered principal of a token (None: the caller must look it up), with a
        refresh started when it is due."""
        principal, due = tokens.recent.lookup(secret, touch_interval=self.touch_interval)
        if due:
            self._start(secret)
        return principal

    def _start(self, secret: str) -> None:
        digest = tokens.hash_token(secret)
        if digest in self._running:
            return
        # A context of its own: its statements are not those of the request that started it.
        task = asyncio.get_running_loop().create_task(
            self._look_up(secret), context=contextvars.Context()
        )
        self._running[digest] = task
        task.add_done_callback(lambda _: self._running.pop(digest, None))

    async def _look_up(self, secret: str) -> None:
        db = RequestSession(self._session_factory(), write_gate=self._write_gate)
        try:
            # last_used_at is written a little early, so that no request finds it due.
            await tokens.look_up(
                db,
                secret,
                touch_interval=max(
                    self.touch_interval - timedelta(seconds=self.cache_seconds), timedelta(0)
                ),
                remember_for=self.cache_seconds,
            )
            await db.end(commit=True)
        except Exception:  # the token expires as usual, and its next request looks it up
            log.info("refreshing a token ahead of its expiry failed", exc_info=True)
        finally:
            await db.close()

    async def close(self) -> None:
        """Wait for the lookups under way (at shutdown, before the engine is disposed)."""
        running = list(self._running.values())
        if running:
            await asyncio.gather(*running, return_exceptions=True)
