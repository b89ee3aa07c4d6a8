"""taskql's sessions plan with their own random_page_cost (db/engine.py), except behind a
transaction-mode pooler, which refuses startup settings."""

import pytest
from sqlalchemy import text

from db.engine import create_engine
from tests.databases import DatabaseUnderTest


async def show_random_page_cost(database: DatabaseUnderTest, **overrides: object) -> str:
    engine = create_engine(database.settings(**overrides))
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(text("SHOW random_page_cost"))).scalar())
    finally:
        await engine.dispose()


async def test_sessions_plan_with_their_own_random_page_cost(
    dialect: str, database: DatabaseUnderTest
) -> None:
    if dialect == "sqlite":
        pytest.skip("a PostgreSQL planner setting")
    server = await show_random_page_cost(database, random_page_cost=0)
    assert server == "4"  # the server's default, as the test server runs it
    if dialect == "pgbouncer":
        # Not sent (PgBouncer would refuse the connection): the server's value.
        assert await show_random_page_cost(database) == server
    else:
        assert await show_random_page_cost(database) == "1.1"
        assert await show_random_page_cost(database, random_page_cost=2.5) == "2.5"
