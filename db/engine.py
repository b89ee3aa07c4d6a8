"""Database URLs as users paste them, engines per dialect, and the session factory."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from db.pool_stats import ObservedQueuePool
from db.settings import Settings
from db.statement_timeout import timed_connection_class

# libpq's sslmode values, which asyncpg accepts as its `ssl` argument.
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
# libpq parameters that asyncpg does not know and that change nothing it does.
_DROPPED_PARAMS = {"channel_binding", "gssencmode", "target_session_attrs"}


# Execution option for a transaction that will write: on SQLite it begins with
# BEGIN IMMEDIATE, taking the write lock up front (waiting up to the busy timeout)
# instead of failing when a read transaction tries to write after another writer.
WRITE_TRANSACTION = "taskql_write"


class DatabaseUrlError(ValueError):
    """The URL names no database taskql can use."""


@dataclass(frozen=True)
class NormalizedUrl:
    url: URL
    connect_args: dict[str, Any] = field(default_factory=dict)
    # Behind a transaction-mode pooler: no prepared statements, no startup settings.
    pooled: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"


def normalize_url(raw: str, *, disable_prepared_statements: bool = False) -> NormalizedUrl:
    """Turn a URL as users paste it into one for the async drivers taskql ships with."""
    raw = raw.strip()
    if not raw:
        raise DatabaseUrlError("DATABASE_URL is empty")
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {raw!r}") from exc

    backend = url.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return _normalize_postgresql(url, disable_prepared_statements)
    if backend == "sqlite":
        return NormalizedUrl(url.set(drivername="sqlite+aiosqlite"))
    raise DatabaseUrlError(
        f"unsupported database {backend!r}: use postgresql://... or sqlite:///path.db"
    )


def _normalize_postgresql(url: URL, disable_prepared_statements: bool) -> NormalizedUrl:
    query = dict(url.query)
    connect_args: dict[str, Any] = {}

    sslmode = query.pop("sslmode", None) or query.pop("ssl", None)
    if sslmode is not None:
        if isinstance(sslmode, tuple):
            sslmode = sslmode[-1]
        if sslmode not in _SSL_MODES:
            raise DatabaseUrlError(f"unknown sslmode {sslmode!r}")
        connect_args["ssl"] = sslmode
    if "connect_timeout" in query:
        connect_args["timeout"] = float(str(query.pop("connect_timeout")))
    if "application_name" in query:
        connect_args.setdefault("server_settings", {})["application_name"] = str(
            query.pop("application_name")
        )
    for name in _DROPPED_PARAMS:
        query.pop(name, None)

    # Transaction-mode poolers hand each transaction to any server connection,
    # where a prepared statement of another connection does not exist.
    pooled = disable_prepared_statements or "-pooler" in (url.host or "")
    if pooled:
        connect_args["statement_cache_size"] = 0
        query["prepared_statement_cache_size"] = "0"

    return NormalizedUrl(
        url.set(drivername="postgresql+asyncpg", query=query), connect_args, pooled=pooled
    )


def create_engine(
    settings: Settings, *, for_migrations: bool = False, poolless: bool = False
) -> AsyncEngine:
    """The engine for settings.database_url.

    for_migrations leaves SQLite's foreign keys off: batch migrations rebuild
    tables, which would otherwise cascade deletes into the rows that refer to them.
    poolless opens a connection per use (command-line tools and tests).
    """
    normalized = normalize_url(
        settings.database_url, disable_prepared_statements=settings.disable_prepared_statements
    )
    if normalized.is_sqlite:
        return _create_sqlite_engine(normalized, settings, for_migrations, poolless)
    return _create_postgresql_engine(normalized, settings, poolless)


def _create_postgresql_engine(
    normalized: NormalizedUrl, settings: Settings, poolless: bool
) -> AsyncEngine:
    connect_args = dict(normalized.connect_args)
    connect_args.setdefault("timeout", settings.connect_timeout_seconds)
    if settings.statement_timeout_ms:
        # Per transaction, not per session: it must hold behind a pooler too.
        connect_args["connection_class"] = timed_connection_class(settings.statement_timeout_ms)
    if settings.random_page_cost and not normalized.pooled:
        # The planner's price of a random page read, for this service's sessions only. At
        # PostgreSQL's default (4, a spinning disk) a lookup by primary key in a table of a
        # few hundred rows is planned as a sequential scan of all of them, once per row of
        # the outer query: a nested read's worker and project lookups took 4.3 ms instead
        # of 1.6 (docs/performance.md). A transaction-mode pooler refuses startup settings:
        # there it is the database's (ALTER DATABASE ... SET random_page_cost = 1.1).
        connect_args["server_settings"] = {
            **connect_args.get("server_settings", {}),
            "random_page_cost": str(settings.random_page_cost),
        }

    pool_args: dict[str, Any] = (
        {"poolclass": NullPool}
        if poolless
        else {
            "poolclass": ObservedQueuePool,
            "pool_size": settings.pool_size,
            "max_overflow": settings.max_overflow,
            "pool_recycle": settings.pool_recycle_seconds,
            "pool_timeout": settings.pool_timeout_seconds,
        }
    )
    engine = create_async_engine(normalized.url, connect_args=connect_args, **pool_args)
    if settings.pool_pre_ping:
        event.listen(engine.sync_engine, "checkout", _drop_closed_connection)
    return engine


def _drop_closed_connection(
    dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry, _proxy: Any
) -> None:
    """The pre-ping without a round trip. SQLAlchemy's own pre-ping costs three on asyncpg
    (BEGIN, an empty statement, ROLLBACK) before every request's first statement. A
    connection the server or the network closed is known closed to asyncpg already (the
    event loop saw the socket end), and the pool replaces it; one that dies unseen fails
    its first statement, and that error invalidates the whole pool."""
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _create_sqlite_engine(
    normalized: NormalizedUrl, settings: Settings, for_migrations: bool, poolless: bool
) -> AsyncEngine:
    is_memory = normalized.url.database in (None, "", ":memory:")
    engine = create_async_engine(
        normalized.url,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
        **({} if is_memory else {"poolclass": NullPool if poolless else ObservedQueuePool}),
    )
    busy_ms = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin,
        # so that reads and writes of one operation share one transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not is_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        # `like` is case-sensitive on PostgreSQL; make it so here too (ilike exists for the other).
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.execute(f"PRAGMA foreign_keys={'OFF' if for_migrations else 'ON'}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_TRANSACTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Objects stay readable after commit: the response is built after the commit.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
