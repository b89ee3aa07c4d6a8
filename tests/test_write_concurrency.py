"""Concurrent writers: every call succeeds or fails cleanly, and the audit log agrees."""

import asyncio
import itertools
import sqlite3

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from db.services.catalog import TASK
from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.factories import Member, add_task, add_worker
from tests.graphql_client import GraphQLClient
from tests.mutation_helpers import (
    ASSIGN,
    CREATE_PROJECT,
    UPDATE_TASK,
    audit_rows,
    count_rows,
    task_row,
)


async def test_twenty_concurrent_updates_of_one_task(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    task = await add_task(engine, member, title="start")
    writes = [{"title": f"title {i}", "progressPercent": i * 5} for i in range(20)]
    responses = await asyncio.gather(
        *(gql(UPDATE_TASK, {"id": str(task), "input": write}) for write in writes)
    )
    succeeded = [write for write, r in zip(writes, responses, strict=True) if not r.errors]
    for response in responses:
        assert response.status == 200
        assert not response.errors or set(response.codes) <= {
            "CONFLICT",
            "SERVICE_UNAVAILABLE",
            "TIMEOUT",
        }
    # Row locks (PostgreSQL) and write transactions that wait their turn (SQLite) let
    # every one of them through.
    assert len(succeeded) == len(writes), [r.errors for r in responses]
    final = await task_row(engine, task)
    assert final is not None
    assert {"title": final["title"], "progressPercent": final["progress_percent"]} in succeeded
    updates = [r for r in await audit_rows(engine, member.team_id) if r["action"].name == "UPDATE"]
    assert len(updates) == len(succeeded)
    # Each entry's "before" is the "after" of the one before it: the writes were serialized.
    for earlier, later in itertools.pairwise(updates):
        assert later["changes"]["title"][0] == earlier["changes"]["title"][1]


async def test_twenty_concurrent_assignments_of_one_worker(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    task = await add_task(engine, member, title="t")
    ada = await add_worker(engine, member, handle="@ada")
    responses = await asyncio.gather(
        *(gql(ASSIGN, {"t": str(task), "w": str(ada)}) for _ in range(20))
    )
    ok = [r for r in responses if not r.errors]
    assert len(ok) == 1
    assert all(r.codes == ["CONFLICT"] for r in responses if r.errors), [
        r.errors for r in responses
    ]
    assigns = [r for r in await audit_rows(engine, member.team_id) if r["action"].name == "ASSIGN"]
    assert len(assigns) == 1


async def test_concurrent_creates_of_one_slug(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    responses = await asyncio.gather(
        *(gql(CREATE_PROJECT, {"input": {"name": f"P{i}", "slug": "race"}}) for i in range(10))
    )
    assert sum(1 for r in responses if not r.errors) == 1
    assert all(r.codes == ["CONFLICT"] for r in responses if r.errors)
    assert len(await audit_rows(engine, member.team_id)) == 1


async def test_concurrent_reparents_never_make_a_cycle(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    for _ in range(5):
        a = await add_task(engine, member, title="a")
        b = await add_task(engine, member, title="b")
        one, two = await asyncio.gather(
            gql(UPDATE_TASK, {"id": str(a), "input": {"parentId": str(b)}}),
            gql(UPDATE_TASK, {"id": str(b), "input": {"parentId": str(a)}}),
        )
        assert sorted([bool(one.errors), bool(two.errors)]) == [False, True], (one.body, two.body)
        loser = one if one.errors else two
        assert loser.codes == ["BAD_USER_INPUT"]
        rows = [await task_row(engine, a), await task_row(engine, b)]
        assert sum(1 for row in rows if row and row["parent_id"] is not None) == 1


CREATE_TASK = "mutation($t: String!) { createTask(input: {title: $t}) { id title } }"


async def test_a_burst_of_two_hundred_creates_on_one_process_all_succeed(
    database: DatabaseUnderTest, member: Member
) -> None:
    """Writers of one process queue for the write lock in the process (SQLite) or take
    row locks (PostgreSQL): a burst waits its turn instead of failing on a busy timeout,
    here a short one that writers racing for SQLite's lock would run past."""
    settings = database.settings(sqlite_busy_timeout_ms=100)
    engine = create_engine(settings)
    app = create_app(settings, engine=engine)
    titles = [f"burst {i}" for i in range(200)]
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            gql = GraphQLClient(http, member.token)
            responses = await asyncio.gather(*(gql(CREATE_TASK, {"t": t}) for t in titles))
        assert [r.errors for r in responses if r.errors] == []
        assert sorted(r.data["createTask"]["title"] for r in responses) == sorted(titles)
        audit = await audit_rows(engine, member.team_id)
        assert len([r for r in audit if r["action"].name == "CREATE"]) == 200
    finally:
        await engine.dispose()


async def test_a_write_that_waits_out_the_busy_timeout_says_busy(
    dialect: str, database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> None:
    """Another process holding SQLite's write lock past the busy timeout: a 503 that says
    the database is busy (not down) and when to retry."""
    if dialect != "sqlite":
        pytest.skip("the write lock of a whole database is SQLite's")
    settings = database.settings(sqlite_busy_timeout_ms=50)
    short_engine = create_engine(settings)
    app = create_app(settings, engine=short_engine)
    other_process = sqlite3.connect(make_url(database.url).database or "", isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            response = await http.post(
                "/graphql",
                json={"query": CREATE_TASK, "variables": {"t": "blocked"}},
                headers={"Authorization": f"Bearer {member.token}"},
            )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert "busy" in error["message"]
    finally:
        other_process.rollback()
        other_process.close()
        await short_engine.dispose()
    assert await count_rows(engine, TASK, member.team_id) == 0
