"""PostgreSQL's statement timeout, set per transaction so that it also holds behind a pooler.

A `statement_timeout` startup parameter is refused by transaction-mode poolers (PgBouncer,
Neon's "-pooler" hosts), and a session-level `SET` would stay on the server connection for
whichever client the pooler hands it to next. `SET LOCAL` ends with its transaction, so it
cannot leak. It travels in the same message as the transaction's BEGIN: asyncpg starts every
transaction with an argument-less `execute("BEGIN ...;")`, which goes out as one simple
query, and a simple query may carry several statements. The timeout costs no round trip.
Every taskql statement runs inside a transaction (SQLAlchemy begins one implicitly), so every
statement is covered.
"""

from functools import lru_cache
from typing import Any

import asyncpg


@lru_cache
def timed_connection_class(statement_timeout_ms: int) -> type[asyncpg.Connection]:
    """An asyncpg connection class whose every transaction begins with the timeout set."""
    set_local = f" SET LOCAL statement_timeout = {int(statement_timeout_ms)};"

    class TimedConnection(asyncpg.Connection):
        __slots__ = ()

        async def execute(
            self,
            query: str,
            *args: Any,
            timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's own signature)
        ) -> str:
            if not args and query.startswith("BEGIN"):
                query += set_local
            result: str = await super().execute(query, *args, timeout=timeout)
            return result

    return TimedConnection
