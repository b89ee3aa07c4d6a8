"""Repeated reads answered from the statements of their first answer (gql/known_reads.py).

Everything here goes through real HTTP requests to the app on a real database. On the
PostgreSQL legs a repeated read is answered by its kept statements; the suite's parity
transport compares every one of those answers with the resolver path's, byte for byte.
"""

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
import sqlalchemy
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine, create_session_factory
from db.services import tokens
from db.statements import StatementCounter
from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.factories import Member, add_project, make_member
from tests.graphql_client import GraphQLClient

TASKS = """
query Tasks($first: Int) {
  tasks(first: $first, orderBy: [{field: CREATED_AT, direction: DESC}]) {
    totalCount
    nodes { id title status project { slug } assignments { role worker { handle } } }
  }
}
"""


def answered() -> float:
    return REGISTRY.get_sample_value("taskql_known_reads_total", {"outcome": "answered"}) or 0.0


def kept() -> float:
    return REGISTRY.get_sample_value("taskql_known_reads_total", {"outcome": "kept"}) or 0.0


def handed_over() -> float:
    return REGISTRY.get_sample_value("taskql_known_reads_total", {"outcome": "handed_over"}) or 0.0


def on_postgresql(dialect: str) -> bool:
    return dialect in ("postgresql", "pgbouncer")


async def create_task(gql: GraphQLClient, project_id: int, title: str) -> str:
    response = await gql(
        "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
        {"input": {"title": title, "projectId": str(project_id)}},
    )
    return str(response.data["createTask"]["id"])


async def test_a_repeated_read_is_answered_by_one_statement(
    dialect: str,
    engine: AsyncEngine,
    member: Member,
    gql: GraphQLClient,
    statements: StatementCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    project = await add_project(engine, member, slug="p")
    for n in range(3):
        await create_task(gql, project, f"t{n}")
    first = await gql(TASKS, {"first": 2})
    before = answered()
    statements.reset()
    caplog.set_level(logging.INFO, logger="taskql.request")

    again = await gql(TASKS, {"first": 2})

    assert again.body == first.body
    assert again.data["tasks"]["totalCount"] == 3
    if not on_postgresql(dialect):
        assert answered() == before  # no JSON statements on SQLite: nothing is kept
        return
    assert answered() == before + 1
    assert statements.count == 1  # one statement: no token lookup, no BEGIN/COMMIT counted
    [line] = [r.getMessage() for r in caplog.records if r.name == "taskql.request"]
    assert "POST /graphql 200" in line and "query Tasks sql=1" in line


async def test_a_repeated_read_sees_every_change(
    dialect: str, engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    project = await add_project(engine, member, slug="p")
    await create_task(gql, project, "first")
    await gql(TASKS, {"first": 10})
    await gql(TASKS, {"first": 10})
    before = answered()

    await create_task(gql, project, "second")
    after_write = await gql(TASKS, {"first": 10})

    titles = [node["title"] for node in after_write.data["tasks"]["nodes"]]
    assert titles == ["second", "first"]
    assert answered() == before + (1 if on_postgresql(dialect) else 0)


async def test_other_variables_and_other_callers_get_their_own_answers(
    dialect: str, engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    other = await make_member(engine, handle="@other")
    mine = await add_project(engine, member, slug="mine")
    theirs = await add_project(engine, other, slug="theirs")
    for n in range(3):
        await create_task(gql, mine, f"mine{n}")
    await create_task(GraphQLClient(gql.http, other.token), theirs, "theirs0")
    for _ in range(2):
        one = await gql(TASKS, {"first": 1})
        two = await gql(TASKS, {"first": 2})
    assert [n["title"] for n in one.data["tasks"]["nodes"]] == ["mine2"]
    assert [n["title"] for n in two.data["tasks"]["nodes"]] == ["mine2", "mine1"]

    # The same body with another team's token: that team's rows, never this one's.
    body_of_other = await GraphQLClient(gql.http, other.token)(TASKS, {"first": 2})
    assert body_of_other.data["tasks"]["totalCount"] == 1
    assert [n["project"]["slug"] for n in body_of_other.data["tasks"]["nodes"]] == ["theirs"]


async def test_a_repeated_header_is_read_as_the_full_path_reads_it(
    dialect: str, engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    """Two Authorization headers: the first decides, on the full path and on a known read."""
    other = await make_member(engine, handle="@second")
    body = '{"query": "{ me { handle } }"}'
    headers = [
        ("content-type", "application/json"),
        ("authorization", f"Bearer {member.token}"),
        ("authorization", f"Bearer {other.token}"),
    ]
    await GraphQLClient(gql.http, other.token)("{ me { handle } }")  # other's entry is kept
    for _ in range(3):
        response = await gql.http.post("/graphql", content=body, headers=headers)
        assert response.json() == {"data": {"me": {"handle": member.handle}}}


async def test_a_revoked_token_stops_working_at_once(
    dialect: str, engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    await gql(TASKS, {"first": 1})
    before = answered()
    await gql(TASKS, {"first": 1})
    assert answered() == before + (1 if on_postgresql(dialect) else 0)
    async with create_session_factory(engine)() as session, session.begin():
        await tokens.revoke(session, member.token_id)

    refused = await gql(TASKS, {"first": 1})

    assert refused.codes == ["UNAUTHENTICATED"]


async def test_a_row_gone_between_repeats_is_null_as_on_the_full_path(
    dialect: str, engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    project = await add_project(engine, member, slug="p")
    task_id = await create_task(gql, project, "doomed")
    query = "query One($id: ID!) { task(id: $id) { id title project { slug } } }"
    await gql(query, {"id": task_id})
    await gql(query, {"id": task_id})
    deleted = await gql("mutation($id: ID!) { deleteTask(id: $id) }", {"id": task_id})
    assert not deleted.errors

    gone = await gql(query, {"id": task_id})

    assert gone.body == {"data": {"task": None}}


async def test_connections_cut_between_repeats_are_replaced(
    dialect: str, database: DatabaseUnderTest, member: Member
) -> None:
    if dialect != "postgresql":
        pytest.skip("the app's own server connections, found by their application_name")
    async with own_app(database, member) as gql:
        first = await gql(TASKS, {"first": 5})
        await gql(TASKS, {"first": 5})
        await terminate_backends(database, application_name=gql.marker)
        before = answered() + handed_over()

        again = await gql(TASKS, {"first": 5})

        assert again.body == first.body
        assert answered() + handed_over() == before + 1


async def test_a_statement_past_the_timeout_is_reported_at_its_field_once(
    dialect: str, database: DatabaseUnderTest, member: Member
) -> None:
    if not on_postgresql(dialect):
        pytest.skip("statement timeout: PostgreSQL")
    async with own_app(database, member, statement_timeout_ms=300) as gql:
        await gql(TASKS, {"first": 5})
        await gql(TASKS, {"first": 5})
        before, handed = answered(), handed_over()
        lock = await asyncpg.connect(direct_dsn(database))
        try:
            # The read waits for this lock until its statement timeout cancels it.
            await lock.execute("BEGIN; LOCK TABLE task IN ACCESS EXCLUSIVE MODE")
            with StatementCounter(gql.engine) as counter:
                timed_out = await gql(TASKS, {"first": 5})
            # The same statement reached by another document goes the full way, in the
            # request's transaction (the timeout on its BEGIN): the same error.
            other_text = await gql(TASKS.replace("totalCount", "totalCount "), {"first": 5})
        finally:
            await lock.execute("ROLLBACK")
            await lock.close()

        assert (answered(), handed_over()) == (before, handed + 1)
        assert timed_out.codes == ["TIMEOUT"]
        [error] = timed_out.errors
        assert error["path"] == ["tasks"]
        assert error["message"] == "the request ran past the statement timeout"
        assert timed_out.body["data"] is None
        # Reported from the kept statement's attempt: the full path did not wait again.
        assert counter.count == 1
        assert other_text.body == timed_out.body
        await asyncio.sleep(0)
        recovered = await gql(TASKS, {"first": 5})
        assert not recovered.errors


async def test_a_busy_token_is_looked_up_again_before_it_expires(
    dialect: str, database: DatabaseUnderTest, member: Member
) -> None:
    """Half-way through TASKQL_TOKEN_CACHE_SECONDS one request looks the token up again in
    the background: requests in a steady stream never all find it expired at once."""
    if not on_postgresql(dialect):
        pytest.skip("known reads: PostgreSQL")
    async with own_app(database, member, token_cache_seconds=0.6) as gql:
        await gql(TASKS, {"first": 1})  # the token is looked up at t=0
        await asyncio.sleep(0.35)  # past half its time: the next request starts a refresh
        before = answered()
        await gql(TASKS, {"first": 1})
        await asyncio.sleep(0.4)  # t=0.75: the first lookup has expired, the refresh not
        await gql(TASKS, {"first": 1})
        assert answered() == before + 2


async def test_the_full_path_refreshes_a_busy_token_too(
    database: DatabaseUnderTest, member: Member
) -> None:
    """Reads that are not repeated, mutations, and every read on SQLite take the full path;
    there too a token in steady use is looked up again before it expires, never by all of
    its requests at once (db/token_refresh.py)."""
    async with own_app(database, member, token_cache_seconds=1.0, known_reads=0) as gql:
        seen: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            seen.append(statement)

        sqlalchemy.event.listen(gql.engine.sync_engine, "before_cursor_execute", record)
        assert not (await gql("{ me { id } }")).errors  # looked up at t=0, kept until t=1
        await asyncio.sleep(0.9)  # past half its time: this request starts a refresh
        assert not (await gql("{ me { handle } }")).errors
        # t=1.15: the first lookup has expired; the refresh's is neither expired nor due
        # (t=1.4), so this request starts none.
        await asyncio.sleep(0.25)
        seen.clear()

        assert not (await gql("{ me { name } }")).errors

        assert seen and not [s for s in seen if "api_token" in s]


async def test_a_token_revoked_elsewhere_stops_at_its_next_refresh(
    dialect: str, database: DatabaseUnderTest, member: Member
) -> None:
    if not on_postgresql(dialect):
        pytest.skip("known reads: PostgreSQL")
    async with own_app(database, member, token_cache_seconds=0.6) as gql:
        await gql(TASKS, {"first": 1})
        await gql(TASKS, {"first": 1})
        # Revoked by another process: this one's cache does not hear of it.
        admin = await asyncpg.connect(direct_dsn(database))
        try:
            await admin.execute(
                "UPDATE api_token SET revoked_at = now() WHERE id = $1", member.token_id
            )
        finally:
            await admin.close()
        await asyncio.sleep(0.35)
        still = await gql(TASKS, {"first": 1})  # within the cache's time: answered
        assert not still.errors
        await asyncio.sleep(0.1)  # the refresh it started found the token revoked

        refused = await gql(TASKS, {"first": 1})

        assert refused.codes == ["UNAUTHENTICATED"]


class OwnClient(GraphQLClient):
    def __init__(self, http: httpx.AsyncClient, token: str, engine: AsyncEngine) -> None:
        super().__init__(http, token)
        self.engine = engine
        self.marker = ""


@asynccontextmanager
async def own_app(
    database: DatabaseUnderTest, member: Member, **overrides: object
) -> AsyncIterator[OwnClient]:
    """An app on an engine of its own, whose connections carry an application name."""
    marker = f"known-reads-{uuid.uuid4().hex[:8]}"
    url = make_url(database.url)
    if url.get_backend_name() == "postgresql":
        url = url.update_query_dict({"application_name": marker})
    settings = database.settings(database_url=url.render_as_string(False), **overrides)
    engine = create_engine(settings)
    app = create_app(settings, engine=engine)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http,
        ):
            client = OwnClient(http, member.token, engine)
            client.marker = marker
            yield client
    finally:
        await engine.dispose()


def direct_dsn(database: DatabaseUnderTest) -> str:
    """The server itself, also on the pooler leg."""
    url = make_url(database.listen_url or database.url)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def terminate_backends(database: DatabaseUnderTest, *, application_name: str) -> None:
    admin = await asyncpg.connect(direct_dsn(database))
    try:
        await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            application_name,
        )
    finally:
        await admin.close()
