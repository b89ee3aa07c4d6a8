"""Test databases: a fresh SQLite file or a fresh PostgreSQL database, made and dropped here."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from db.settings import Settings

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
# "pgbouncer" is PostgreSQL reached through a transaction-mode PgBouncer (tests/pgbouncer.py).
DIALECTS = ("sqlite", "postgresql", "pgbouncer")


@dataclass(frozen=True)
class DatabaseUnderTest:
    dialect: str
    url: str  # what the app connects to
    pooled: bool = False  # url goes through a transaction-mode pooler
    listen_url: str | None = None  # the server itself, for the event listener behind a pooler

    def settings(self, **overrides: Any) -> Settings:
        """The app's settings for this database, with the pooler switch it needs."""
        values = {
            "database_url": self.url,
            "disable_prepared_statements": self.pooled,
            "events_listen_url": self.listen_url,
            **overrides,
        }
        return Settings(**values)

    def environ(self) -> dict[str, str]:
        """The same, as the environment of a `taskql` process."""
        return {
            "DATABASE_URL": self.url,
            "TASKQL_DISABLE_PREPARED_STATEMENTS": "true" if self.pooled else "false",
            **({"TASKQL_EVENTS_LISTEN_URL": self.listen_url} if self.listen_url else {}),
        }


def admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def postgresql_unreachable_reason() -> str | None:
    try:
        conn = await asyncpg.connect(_asyncpg_dsn(admin_url()), timeout=5)
    except Exception as exc:  # noqa: BLE001 (any failure means: no PostgreSQL here)
        return f"PostgreSQL at {make_url(admin_url()).render_as_string()} is unreachable: {exc}"
    await conn.close()
    return None


@asynccontextmanager
async def fresh_database(dialect: str, directory: Path) -> AsyncIterator[DatabaseUnderTest]:
    """An empty database of the dialect, dropped afterwards."""
    name = f"taskql_test_{uuid.uuid4().hex[:12]}"
    if dialect == "sqlite":
        path = directory / f"{name}.db"
        try:
            yield DatabaseUnderTest("sqlite", f"sqlite+aiosqlite:///{path}")
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240
        return
    admin = await asyncpg.connect(_asyncpg_dsn(admin_url()), timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield DatabaseUnderTest(
                "postgresql", make_url(admin_url()).set(database=name).render_as_string(False)
            )
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
