"""Prepared JSON statements run on a pooled connection, without a transaction.

A read that is one statement per root field needs no transaction: under READ COMMITTED
(PostgreSQL's default, and taskql's) every statement takes its own snapshot inside a
transaction too, so BEGIN and COMMIT would only add two round trips. Without a BEGIN there
is no `SET LOCAL statement_timeout` (db/statement_timeout.py) to ride on it, so the timeout
is asyncpg's own: past it, asyncpg cancels the query on the server and raises, and the
connection is discarded rather than handed on mid-cancellation.

Statements go to asyncpg directly (SQLAlchemy's execution layer costs more CPU than the
statement's round trip), but they are announced to the engine's `before_cursor_execute`
listeners first, so statement counts (metrics, logs, the tests' SQL budgets) see them as
they see every other statement.
"""

import asyncio
import contextlib
import warnings
import weakref
from collections.abc import Sequence
from typing import Any

import asyncpg
from sqlalchemy.engine import Engine
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from db.errors import StatementTimedOut

# (sql, bound values): as json_reads.Prepared holds them.
Statement = tuple[str, tuple[Any, ...]]

# Runs that outlive a cancelled caller until their connection is back in the pool.
_running: set["asyncio.Task[list[str | None]]"] = set()

# Per engine: these reads hold a connection for one round trip, so a burst of them would
# open overflow connections only to close them again on return (a connect costs more than
# many reads). They take turns for the pool's own connections instead.
_turns: "weakref.WeakKeyDictionary[object, asyncio.Semaphore | None]" = weakref.WeakKeyDictionary()


async def fetch_json(
    engine: AsyncEngine, statements: Sequence[Statement], *, timeout_ms: int
) -> list[str | None]:
    """Each statement's one value, in order, on one connection. A cancelled caller stops
    waiting; the statements run to their end and the connection goes back to the pool."""
    task = asyncio.ensure_future(_fetch(engine, statements, timeout_ms))
    _running.add(task)
    task.add_done_callback(_settled)
    return await asyncio.shield(task)


def _settled(task: "asyncio.Task[list[str | None]]") -> None:
    _running.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a caller that stopped waiting did not see it


def _turn(engine: AsyncEngine) -> asyncio.Semaphore | None:
    sync_engine = engine.sync_engine
    try:
        return _turns[sync_engine]
    except KeyError:
        pool = sync_engine.pool
        turn = asyncio.Semaphore(pool.size()) if isinstance(pool, QueuePool) else None
        _turns[sync_engine] = turn
        return turn


async def _fetch(
    engine: AsyncEngine, statements: Sequence[Statement], timeout_ms: int
) -> list[str | None]:
    async with _turn(engine) or contextlib.nullcontext():
        return await _fetch_on_connection(engine, statements, timeout_ms)


async def _fetch_on_connection(
    engine: AsyncEngine, statements: Sequence[Statement], timeout_ms: int
) -> list[str | None]:
    timeout = timeout_ms / 1000 if timeout_ms > 0 else None
    sync_engine = engine.sync_engine
    announce = sync_engine.dispatch.before_cursor_execute
    fairy = await _checkout(sync_engine)
    texts: list[str | None] = []
    try:
        driver = fairy.driver_connection
        assert driver is not None
        for sql, values in statements:
            if announce:
                announce(None, None, sql, values, None, False)
            texts.append(await driver.fetchval(sql, *values, timeout=timeout))
    except BaseException as exc:
        # Timed out (a cancellation in flight), cut off, or broken: never reused.
        broken = not _server_reported(exc)
        await greenlet_spawn(_close, fairy, exc if broken and isinstance(exc, Exception) else None)
        if isinstance(exc, TimeoutError):
            raise StatementTimedOut(len(texts)) from None
        raise
    await _checkin(sync_engine, fairy)
    return texts


# The pool's checkout and checkin, without a SQLAlchemy Connection around them (nothing
# here needs one). Run in a greenlet, as SQLAlchemy's asyncio layer runs them, they cost
# about 45 us a pair; called directly, 9. Directly only where they do no I/O: an idle
# connection is taken, or a connection is put back where there is room for it. A taken
# connection that must be replaced first (recycled, or found closed) raises MissingGreenlet
# once the pool has taken it back, and the checkout is made again in a greenlet.


async def _checkout(sync_engine: Engine) -> PoolProxiedConnection:
    pool = sync_engine.pool
    if isinstance(pool, QueuePool) and pool.checkedin() > 0:
        try:
            with warnings.catch_warnings():
                # The connect SQLAlchemy started and closed unawaited: "never awaited".
                warnings.simplefilter("ignore", RuntimeWarning)
                return sync_engine.raw_connection()
        except MissingGreenlet:
            pass
    return await greenlet_spawn(sync_engine.raw_connection)


async def _checkin(sync_engine: Engine, fairy: PoolProxiedConnection) -> None:
    pool = sync_engine.pool
    if isinstance(pool, QueuePool) and pool.checkedin() < pool.size():
        fairy.close()  # reset (no transaction is open: nothing to roll back) and queued
    else:
        await greenlet_spawn(fairy.close)  # an overflow connection: closed


def _close(fairy: PoolProxiedConnection, broken_by: Exception | None) -> None:
    """Back to the pool after a failure; discarded first when the connection is broken."""
    if broken_by is not None:
        fairy.invalidate(broken_by)
    fairy.close()


def _server_reported(exc: BaseException) -> bool:
    """An error the server sent in answer to the statement: the connection is sound."""
    return isinstance(exc, asyncpg.PostgresError) and not isinstance(
        exc, asyncpg.exceptions.QueryCanceledError
    )
