"""PostgreSQL wake-ups between processes: NOTIFY after commit, LISTEN on a connection of its own.

A notification is only a wake-up, never the event: one sent while a listener reconnects is
gone, so after every (re)connect the feeds read anyway, and a poll covers the rest. NOTIFY is
sent after the commit, coalesced, with only a team id: inside the write transaction it would
take PostgreSQL's global notify lock across every commit.

LISTEN through a transaction-mode pooler (PgBouncer, Neon "-pooler" hosts) succeeds and then
never delivers: the listener connects directly (TASKQL_EVENTS_LISTEN_URL, by default
DATABASE_URL without "-pooler") and proves it hears a NOTIFY sent from another connection.
A killed backend is noticed at once; a silent network stall only by the keepalive query.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import normalize_url
from db.events import outbox

log = logging.getLogger("taskql.events")

CHANNEL = "taskql_events"


def listen_dsn(url: str) -> tuple[str, dict[str, object]]:
    """asyncpg's DSN and arguments for a direct connection to the database of `url`."""
    normalized = normalize_url(url)
    target = normalized.url
    if target.host and "-pooler" in target.host:
        target = target.set(host=target.host.replace("-pooler", ""))
    dsn = target.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
    args = {k: v for k, v in normalized.connect_args.items() if k != "statement_cache_size"}
    return dsn, args


class Publisher:
    """NOTIFY after commit: team ids collected while a send is under way go out together."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._teams: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def publish(self, team_ids: frozenset[int]) -> None:
        self._teams |= team_ids
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while self._teams:
            teams, self._teams = sorted(self._teams), set()
            try:
                async with self._engine.connect() as conn:
                    for team_id in teams:
                        await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, str(team_id))))
                    await conn.commit()
            except Exception:  # a lost wake-up: the other processes poll
                log.warning("NOTIFY failed", exc_info=True)

    async def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


@asynccontextmanager
async def announcing(engine: AsyncEngine) -> AsyncIterator[None]:
    """For processes without a fan-out (the command line): tell the servers about commits
    made inside the block, so their subscribers need not wait for a poll."""
    if engine.dialect.name != "postgresql":
        yield
        return
    publisher = Publisher(engine)
    undo = outbox.on_commit(publisher.publish)
    try:
        yield
    finally:
        undo()
        await publisher.close()


class Listener:
    """LISTEN on a dedicated connection: no transaction ever runs on it."""

    def __init__(
        self,
        url: str,
        engine: AsyncEngine,
        on_notify: Callable[[int], None],
        on_reconnect: Callable[[], None],
        *,
        keepalive_interval: float,
        keepalive_timeout: float,
        probe_timeout: float = 5.0,
    ) -> None:
        self._dsn, self._args = listen_dsn(url)
        self._engine = engine
        self._on_notify = on_notify
        self._on_reconnect = on_reconnect
        self._keepalive_interval = keepalive_interval
        self._keepalive_timeout = keepalive_timeout
        self._probe_timeout = probe_timeout
        self._lost = asyncio.Event()
        self._probes: dict[str, asyncio.Event] = {}
        self._task: asyncio.Task[None] | None = None
        # Set between attempts (connected and probed, or failed): a safe point to cancel.
        self._between = asyncio.Event()
        self.connection: asyncpg.Connection | None = None
        # Whether notifications from other connections were seen to arrive.
        self.hears_others = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="taskql-listener")

    async def close(self) -> None:
        if self._task is not None:
            # asyncpg cancelled in the middle of its handshake leaves a future with a lost
            # connection that nobody retrieves: let a connect under way finish first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._between.wait(), self._probe_timeout)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._disconnect()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                self._between.clear()
                await self._connect()
                backoff = 0.1
                self._on_reconnect()  # what was committed while away is read now
                await self._probe()
                self._between.set()
                await self._keep_alive()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (reconnect below)
                log.warning("event listener lost its connection: %s", exc)
            self._between.set()
            await self._disconnect()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def _connect(self) -> None:
        self._lost.clear()
        conn = await asyncpg.connect(self._dsn, **self._args)
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        self.connection = conn

    async def _disconnect(self) -> None:
        conn, self.connection = self.connection, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), self._keepalive_timeout)
            if not conn.is_closed():
                conn.terminate()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        probe = self._probes.get(payload)
        if probe is not None:
            probe.set()
        elif payload.isdigit():
            self._on_notify(int(payload))

    async def _probe(self) -> None:
        """A NOTIFY from a pooled connection must arrive here, or LISTEN is deaf (a pooler)."""
        token = f"probe:{uuid.uuid4().hex}"
        heard = self._probes[token] = asyncio.Event()
        try:
            async with self._engine.connect() as conn:
                await conn.execute(sa.select(sa.func.pg_notify(CHANNEL, token)))
                await conn.commit()
            await asyncio.wait_for(heard.wait(), self._probe_timeout)
            self.hears_others = True
        except TimeoutError:
            self.hears_others = False
            log.warning(
                "the event listener does not hear other connections' NOTIFY (is "
                "TASKQL_EVENTS_LISTEN_URL a pooler?): events between processes wait for the poll"
            )
        finally:
            self._probes.pop(token, None)

    async def _keep_alive(self) -> None:
        conn = self.connection
        assert conn is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._keepalive_interval)
            if self._lost.is_set() or conn.is_closed():
                raise ConnectionError("the listener's backend went away")
            # Outside any transaction: a plain query that must answer in time.
            await asyncio.wait_for(conn.fetchval("SELECT 1"), self._keepalive_timeout)
