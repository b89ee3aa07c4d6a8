"""A request's database session: one AsyncSession that no task of the request outlives.

Sibling resolvers and DataLoader batches use the session concurrently, and an
AsyncSession must never be used by two tasks at once, so every use goes through
one lock. graphql-core cancels the sibling fields of a failed field, but loader
batches run in tasks of their own and are not among them; and a statement cut
off by a cancellation leaves its connection in the middle of a protocol exchange.
So reads run as tracked, shielded tasks: a cancelled caller stops waiting, the
statement finishes, and `end` waits for every one of them before it commits or
rolls back and hands the connection back to the pool. After `end`, the session
refuses new work.
"""

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db.engine import WRITE_TRANSACTION
from db.errors import DatabaseBusy

log = logging.getLogger("taskql.session")

T = TypeVar("T")


class RequestEnded(Exception):
    """Work asked for the session of a request that has ended."""


class WriteGate:
    """One write transaction at a time per process, queued in the process.

    SQLite has one write lock per database. Writers that race for it through
    `BEGIN IMMEDIATE` spin on its busy timeout and fail under a burst; writers
    of one process wait here in turn instead, and only other processes contend
    for SQLite's lock.
    """

    def __init__(self, timeout_seconds: float) -> None:
        self._lock = asyncio.Lock()
        self._timeout = timeout_seconds

    async def acquire(self) -> None:
        try:
            await asyncio.wait_for(self._lock.acquire(), self._timeout)
        except TimeoutError:
            raise DatabaseBusy("waited too long for the write lock") from None

    def release(self) -> None:
        self._lock.release()


_gates: "weakref.WeakKeyDictionary[object, WriteGate]" = weakref.WeakKeyDictionary()


def write_gate_for(engine: AsyncEngine, timeout_seconds: float) -> WriteGate | None:
    """The process's gate for an engine's database; PostgreSQL needs none (row locks)."""
    if engine.dialect.name != "sqlite":
        return None
    gate = _gates.get(engine.sync_engine)
    if gate is None:
        gate = _gates[engine.sync_engine] = WriteGate(timeout_seconds)
    return gate


# Ending a session runs to completion even when the request that ends it is
# cancelled; these references keep such endings alive until they are done.
_endings: set["asyncio.Task[None]"] = set()


class RequestSession:
    def __init__(self, session: AsyncSession, *, write_gate: WriteGate | None = None) -> None:
        self._session = session
        self._lock = asyncio.Lock()
        self._gate = write_gate
        self._holds_gate = False
        self._writing = False
        self._ended = False
        self._ending: asyncio.Task[None] | None = None
        self._work: set[asyncio.Future[object]] = set()

    @property
    def dialect(self) -> Dialect:
        return self._session.get_bind().dialect

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` with the session, in turn with the request's other work."""
        if self._ended:
            raise RequestEnded()
        task: asyncio.Future[T] = asyncio.ensure_future(self._locked(work))
        self._work.add(task)  # type: ignore[arg-type]
        task.add_done_callback(self._work.discard)
        # A cancelled caller stops waiting; the statement itself runs to its end.
        return await asyncio.shield(task)

    async def _locked(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._lock:
            if self._ended:
                raise RequestEnded()
            return await work(self._session)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """The session inside the operation's write transaction.

        The first write of an operation ends the read transaction the token lookup
        opened and begins one that takes SQLite's write lock up front (after this
        process's writers ahead of it): a read transaction that later writes would
        fail at once when another writer got there first, instead of waiting its turn.
        Mutations run one field at a time in the request's own task, so the block
        is not a tracked task: the request's ending comes after it.
        """
        async with self._lock:
            if self._ended:
                raise RequestEnded()
            if not self._writing:
                if self._session.in_transaction():
                    await self._session.commit()
                if self._gate is not None:
                    await self._gate.acquire()
                    self._holds_gate = True
                await self._session.connection(execution_options={WRITE_TRANSACTION: True})
                self._writing = True
            yield self._session

    async def end(self, *, commit: bool) -> None:
        """Wait for the request's work, commit (or roll back), and release the connection.

        Idempotent; runs to completion even if the caller is cancelled. Raises only
        a failed commit, after rolling back.
        """
        self._ended = True
        if self._ending is None:
            self._ending = asyncio.ensure_future(self._end(commit))
            _endings.add(self._ending)
            self._ending.add_done_callback(_endings.discard)
        await asyncio.shield(self._ending)

    async def close(self) -> None:
        """End without committing; never raises (the request's teardown)."""
        try:
            await self.end(commit=False)
        except Exception:
            log.warning("a session ended with a failed commit", exc_info=True)

    async def _end(self, commit: bool) -> None:
        if self._work:
            await asyncio.gather(*self._work, return_exceptions=True)
        async with self._lock:
            try:
                if commit and self._session.in_transaction():
                    try:
                        await self._session.commit()
                    except BaseException:
                        await self._quietly_rollback()
                        raise
            finally:
                await self._release()

    async def _quietly_rollback(self) -> None:
        try:
            await self._session.rollback()
        except Exception:
            # The connection is gone or broken; closing below discards it.
            log.warning("rollback failed", exc_info=True)

    async def _release(self) -> None:
        try:
            # Rolls back whatever is open and returns the connection to the pool.
            await self._session.close()
        except Exception:
            log.warning("closing a session failed; discarding its connection", exc_info=True)
            try:
                await self._session.invalidate()
            except Exception:
                log.warning("discarding a connection failed", exc_info=True)
        finally:
            if self._holds_gate and self._gate is not None:
                self._holds_gate = False
                self._gate.release()
