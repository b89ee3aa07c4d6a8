"""What a connection pool is doing: size, connections in use, overflow, and waits.

SQLAlchemy's queue pool tells its size, checked-out and overflow counts but not how
often a request had to wait for a connection, which is the number that says the pool
(or the database's max_connections) is too small. ObservedQueuePool counts that.
"""

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry


class ObservedQueuePool(AsyncAdaptedQueuePool):
    """The async queue pool, counting the checkouts that found no connection free."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting = 0
        self.waits = 0
        self.wait_seconds = 0.0
        self.timeouts = 0

    def _do_get(self) -> ConnectionPoolEntry:
        # No idle connection and no room to open one: this checkout queues (the test
        # QueuePool._do_get makes before it blocks).
        if self.checkedin() > 0 or self._max_overflow < 0 or self._overflow < self._max_overflow:
            return super()._do_get()
        self.waits += 1
        self.waiting += 1
        started = time.monotonic()
        try:
            return super()._do_get()
        except PoolTimeoutError:
            self.timeouts += 1
            raise
        finally:
            self.waiting -= 1
            self.wait_seconds += time.monotonic() - started


@dataclass(frozen=True)
class PoolStats:
    size: int  # connections the pool keeps
    connections: int  # connections open now, idle or in use
    checked_out: int  # connections in use by requests now
    overflow: int  # connections open beyond `size` now
    waiting: int  # checkouts waiting for a connection now
    waits: int  # checkouts that had to wait, since start
    wait_seconds: float  # time spent waiting, since start
    timeouts: int  # checkouts that gave up waiting, since start


def pool_stats(engine: AsyncEngine) -> PoolStats | None:
    """The engine's pool numbers; None for pools that do not queue (NullPool, StaticPool)."""
    pool = engine.sync_engine.pool
    if not isinstance(pool, ObservedQueuePool):
        return None
    return PoolStats(
        size=pool.size(),
        connections=pool.checkedin() + pool.checkedout(),
        checked_out=pool.checkedout(),
        overflow=max(pool.overflow(), 0),
        waiting=pool.waiting,
        waits=pool.waits,
        wait_seconds=pool.wait_seconds,
        timeouts=pool.timeouts,
    )
