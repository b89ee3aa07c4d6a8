"""A request owns everything that uses its session: nothing outlives it.

When one field fails, graphql-core cancels its sibling fields, but DataLoader batches
run in tasks of their own; they must not go on using the session after the request.
"""

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.datasets import build_forest
from tests.factories import Member
from tests.graphql_client import GraphQLClient
from tests.leak_guard import checked_out_after_settling
from tests.live_server import served

FAILING_BESIDE_BATCHES = [
    "{ tasks(first: 5) { nodes { project { name } subtasks(first: 500) { totalCount } } } }",
    "{ tasks(first: 5) { nodes { project { name } subtasks(first: -1) { totalCount } } } }",
    "{ tasks(first: 5) { nodes { assignments { worker { handle } } subtasks(first: -1) { totalCount } } } }",
]


async def test_field_errors_beside_batched_siblings_leave_the_pool_clean(
    engine: AsyncEngine, member: Member, http: httpx.AsyncClient
) -> None:
    await build_forest(engine, member, roots=5)
    gql = GraphQLClient(http, member.token)
    gate = asyncio.Semaphore(8)

    async def one(query: str) -> None:
        async with gate:
            response = await gql(query)
        assert response.status == 200
        assert response.codes == ["BAD_USER_INPUT"] * len(response.errors)
        assert response.errors

    await asyncio.gather(*(one(q) for q in FAILING_BESIDE_BATCHES for _ in range(20)))
    me = await asyncio.wait_for(gql("{ me { handle } }"), timeout=2)
    assert me.data == {"me": {"handle": member.handle}}
    # A background token refresh (db/token_refresh.py) may borrow a connection for a moment.
    assert await checked_out_after_settling(engine) == 0


NESTED = "{ tasks(first: 20) { nodes { id project { name } assignments { worker { handle } } subtasks(first: 5) { nodes { id } } } } }"


@contextmanager
def on_statement(engine: AsyncEngine, marker: str, action: Callable[[Any], None]) -> Iterator[None]:
    """Calls `action(dbapi_cursor)` just before the first statement containing `marker`."""
    fired = False

    def hook(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal fired
        if not fired and marker in statement:
            fired = True
            action(cursor)

    event.listen(engine.sync_engine, "before_cursor_execute", hook)
    try:
        yield
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", hook)


async def test_a_cancelled_request_leaves_the_pool_clean(
    engine: AsyncEngine, member: Member, http: httpx.AsyncClient
) -> None:
    await build_forest(engine, member, roots=20)
    gql = GraphQLClient(http, member.token)
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    with on_statement(engine, "task_assignment", lambda _c: loop.call_soon_threadsafe(started.set)):
        request = asyncio.create_task(gql(NESTED))
        await asyncio.wait_for(started.wait(), timeout=10)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
    me = await asyncio.wait_for(gql("{ me { handle } }"), timeout=5)
    assert me.data == {"me": {"handle": member.handle}}


async def test_a_client_that_disconnects_while_its_loaders_run(
    database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> None:
    await build_forest(engine, member, roots=20)
    app = create_app(database.settings(), engine=engine)
    started = asyncio.Event()
    loop = asyncio.get_running_loop()
    body = json.dumps({"query": NESTED}).encode()
    async with served(app) as port:
        with on_statement(
            engine, "task_assignment", lambda _c: loop.call_soon_threadsafe(started.set)
        ):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
                + f"authorization: Bearer {member.token}\r\n".encode()
                + f"content-length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            await asyncio.wait_for(started.wait(), timeout=10)
            writer.close()  # gone while its loaders are still running
            await writer.wait_closed()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            me = await asyncio.wait_for(GraphQLClient(client, member.token)("{ me { handle } }"), 5)
        assert me.data == {"me": {"handle": member.handle}}


def _fail_the_statement(dialect: str) -> Callable[[Any], None]:
    """A real database failure on the statement's own connection: on PostgreSQL its
    backend goes away; SQLite is asked for a table that does not exist."""
    if dialect == "postgresql":
        return lambda cursor: cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    return lambda cursor: cursor.execute("SELECT * FROM no_such_table")


@pytest.mark.allow_error_log("SQLite's failure is unexpected: masked and logged")
async def test_a_database_error_in_the_middle_of_a_batch(
    dialect: str, database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> None:
    await build_forest(engine, member, roots=20)
    # Its own client: a fault injected into one engine has no twin to compare with.
    app = create_app(database.settings(), engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        gql = GraphQLClient(http, member.token)
        with on_statement(engine, "task_assignment", _fail_the_statement(dialect)):
            failed = await gql(NESTED)
        me = await asyncio.wait_for(gql("{ me { handle } }"), timeout=5)
    assert failed.errors
    expected = "SERVICE_UNAVAILABLE" if dialect == "postgresql" else "INTERNAL_SERVER_ERROR"
    assert set(failed.codes) == {expected}
    assert "no_such_table" not in json.dumps(failed.body)
    assert me.data == {"me": {"handle": member.handle}}
