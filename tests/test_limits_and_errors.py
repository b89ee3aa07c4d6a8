"""Limits reject operations before any SQL runs; unexpected failures are masked."""

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_engine
from db.statements import StatementCounter
from gql.app import create_app
from gql.errors import Code, classify
from tests.databases import DatabaseUnderTest
from tests.factories import Member
from tests.graphql_client import GraphQLClient


@pytest.fixture
async def strict(
    database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> AsyncIterator[GraphQLClient]:
    """An app with small limits, on the test database (with its pooler settings: a listener
    that LISTENs through the pooler waits out its probe at every shutdown)."""
    settings = database.settings(max_depth=4, max_aliases=3, max_body_bytes=2_000)
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield GraphQLClient(http, member.token)


async def _rejected_without_sql(
    gql: GraphQLClient, statements: StatementCounter, query: str
) -> dict[str, Any]:
    statements.reset()
    response = await gql(query)
    assert response.codes and set(response.codes) == {"BAD_USER_INPUT"}, response.body
    assert response.body.get("data") is None
    assert statements.statements == []
    return response.errors[0]


async def test_depth_limit(strict: GraphQLClient, statements: StatementCounter) -> None:
    assert (await strict("{ tasks { nodes { parent { id } } } }")).errors == []
    error = await _rejected_without_sql(
        strict, statements, "{ tasks { nodes { parent { parent { parent { id } } } } } }"
    )
    assert "depth" in error["message"]
    through_fragments = """
      query { tasks { nodes { ...deep } } }
      fragment deep on Task { parent { parent { parent { id } } } }"""
    await _rejected_without_sql(strict, statements, through_fragments)


async def test_alias_limit_counts_aliases_inside_fragments(
    strict: GraphQLClient, statements: StatementCounter
) -> None:
    assert (await strict("{ a: me { id } b: me { id } c: team { id } }")).errors == []
    await _rejected_without_sql(
        strict, statements, "{ a: me { id } b: me { id } c: me { id } d: me { id } }"
    )
    # The document spells two aliases, once, in a fragment; spread in two places it
    # makes four aliased fields, over the limit of three.
    fragment = "fragment pair on Task { x: id y: title }"
    once = "{ tasks { nodes { ...pair } } } " + fragment
    assert (await strict(once)).errors == []
    twice = "{ tasks { nodes { ...pair } } projects { nodes { tasks { nodes { ...pair } } } } } "
    error = await _rejected_without_sql(strict, statements, twice + fragment)
    assert "alias" in error["message"]


async def test_body_size_limit(strict: GraphQLClient, statements: StatementCounter) -> None:
    statements.reset()
    response = await strict.http.post("/graphql", json={"query": "{ me { id } }" + " " * 3_000})
    assert response.status_code == 413
    assert statements.statements == []


async def test_syntax_and_unknown_fields(gql: GraphQLClient, statements: StatementCounter) -> None:
    await _rejected_without_sql(gql, statements, "{ tasks { nodes { id }")
    await _rejected_without_sql(gql, statements, "{ tasks { nodes { nope } } }")


@pytest.mark.allow_error_log("the masked error is logged on the server, which the test checks")
async def test_unexpected_errors_are_masked_and_logged(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from db.services import stats

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret detail: SELECT password FROM vault")

    monkeypatch.setattr(stats, "task_stats", broken)
    with caplog.at_level(logging.ERROR, logger="taskql.errors"):
        response = await gql("{ taskStats { total } }")
    assert response.codes == ["INTERNAL_SERVER_ERROR"]
    assert response.errors[0]["message"] == "Unexpected error."
    assert "secret" not in str(response.body)
    assert "secret detail" in caplog.text


async def test_statement_timeout_is_timeout(dialect: str, database: Any) -> None:
    """PostgreSQL cancels a statement past TASKQL_STATEMENT_TIMEOUT_MS, behind a pooler too;
    clients see TIMEOUT."""
    if dialect == "sqlite":
        pytest.skip("the statement timeout is PostgreSQL's")
    engine = create_engine(database.settings(statement_timeout_ms=100), poolless=True)
    try:
        async with engine.connect() as conn:
            with pytest.raises(sa.exc.DBAPIError) as raised:
                await conn.execute(sa.text("SELECT pg_sleep(2)"))
    finally:
        await engine.dispose()
    assert classify(raised.value) == (Code.TIMEOUT, "the request ran past the statement timeout")


async def test_statement_timeout_is_per_transaction_and_never_leaks(
    dialect: str, database: Any
) -> None:
    """Every transaction gets the timeout, and it ends with the transaction: a server
    connection that a pooler hands to another client next does not carry it."""
    if dialect == "sqlite":
        pytest.skip("the statement timeout is PostgreSQL's")
    engine = create_engine(database.settings(statement_timeout_ms=1234, pool_size=1))
    other = create_engine(database.settings(statement_timeout_ms=0), poolless=True)
    show = sa.text("SHOW statement_timeout")
    try:
        for _ in range(3):  # the same pooled connection, a new transaction each time
            async with engine.connect() as conn:
                assert (await conn.execute(show)).scalar_one() == "1234ms"
        async with engine.connect() as conn, other.connect() as bystander:
            # While one transaction holds the setting, other sessions never see it,
            # whichever server connection the pooler gives them.
            assert (await conn.execute(show)).scalar_one() == "1234ms"
            for _ in range(5):
                assert (await bystander.execute(show)).scalar_one() == "0"
                await bystander.commit()
    finally:
        await engine.dispose()
        await other.dispose()


async def test_errors_a_race_can_cause_get_codes() -> None:
    """Driver errors that concurrent writers can provoke map to the codes of the contract."""

    class Orig(Exception):
        def __init__(self, sqlstate: str, text: str) -> None:
            super().__init__(text)
            self.sqlstate = sqlstate

    def integrity(state: str, text: str) -> sa.exc.IntegrityError:
        return sa.exc.IntegrityError("INSERT ...", {}, Orig(state, text))

    assert classify(integrity("23505", "duplicate key"))[0] is Code.CONFLICT  # type: ignore[index]
    assert classify(integrity("23503", "violates foreign key"))[0] is Code.NOT_FOUND  # type: ignore[index]
    assert classify(integrity("23514", "violates check"))[0] is Code.BAD_USER_INPUT  # type: ignore[index]
    assert classify(sa.exc.DBAPIError("x", {}, Orig("40P01", "deadlock")))[0] is Code.CONFLICT  # type: ignore[index]


async def test_list_arguments_are_bounded(gql: GraphQLClient, statements: StatementCounter) -> None:
    many = [str(i) for i in range(1, 1_002)]
    response = await gql(
        "query ($ids: [ID!]) { tasks(where: {id: {in: $ids}}) { totalCount } }", {"ids": many}
    )
    assert response.codes == ["BAD_USER_INPUT"] and "at most 1000" in response.errors[0]["message"]
    create_many = "mutation ($input: [CreateTaskInput!]!) { createTasks(input: $input) { id } }"
    response = await gql(create_many, {"input": [{"title": f"t{i}"} for i in range(501)]})
    assert response.codes == ["BAD_USER_INPUT"]
    response = await gql(
        'mutation ($ids: [ID!]) { createTask(input: {title: "t", assigneeIds: $ids}) { id } }',
        {"ids": many[:101]},
    )
    assert response.codes == ["BAD_USER_INPUT"]
    assert (await gql("{ tasks { totalCount } }")).data == {"tasks": {"totalCount": 0}}


async def test_multiplied_pages_are_refused_before_sql(
    gql: GraphQLClient, statements: StatementCounter
) -> None:
    huge = """{ projects(first: 100) { nodes { tasks(first: 100) { nodes {
        subtasks(first: 100) { nodes { id } } } } } } }"""
    statements.reset()
    response = await gql(huge)
    assert response.codes == ["BAD_USER_INPUT"]
    assert "1010100 rows" in response.errors[0]["message"]
    assert statements.statements == []
    through_fragment = """query ($n: Int) { projects(first: $n) { nodes { ...t } } }
        fragment t on Project { tasks(first: 100) { nodes { subtasks(first: 100) { nodes { id } } } } }"""
    assert (await gql(through_fragment, {"n": 100})).codes == ["BAD_USER_INPUT"]
    # The nested shape of the SQL budgets is far below the limit.
    fine = "{ tasks(first: 50) { nodes { subtasks(first: 5) { nodes { id } } } } projects { nodes { id } } }"
    assert (await gql(fine)).errors == []


def test_row_estimate() -> None:
    from graphql import OperationDefinitionNode, parse

    from gql.cost import connection_fields, estimated_rows, operation_fragments
    from gql.schema import schema

    doc = parse(
        "query A { tasks { nodes { subtasks(first: 3) { totalCount } } } }"
        " query B { workers(last: 7) { nodes { id } } }"
        " query C { me { id } }"
        " query D($n: Int) { tasks(first: 60000) { nodes { subtasks(first: $n) { totalCount } } } }"
    )
    operations = {
        d.name.value: d
        for d in doc.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }

    def rows(name: str, variables: dict[str, int] | None = None, max_page_size: int = 100) -> int:
        return estimated_rows(
            operations[name],
            operation_fragments(doc),
            variables or {},
            max_page_size=max_page_size,
            connections=connection_fields(schema._schema),
        )

    assert rows("A") == 20 + 20 * 3  # first defaults to 20
    assert rows("A", max_page_size=10) == 10 + 10 * 3  # the default never exceeds the maximum
    assert rows("B") == 7
    assert rows("C") == 0
    # A page size the resolver will refuse counts as the largest valid one.
    assert rows("D", {"n": -1}) == 100 + 100 * 100
    assert rows("D", {"n": 2}) == 100 + 100 * 2


def _nested(key: str, levels: int, leaf: dict[str, Any] | None = None) -> dict[str, Any]:
    tree: dict[str, Any] = leaf or {"title": {"eq": "x"}}
    for _ in range(levels):
        tree = {key: [tree] if key in ("and", "or") else tree}
    return tree


async def test_filter_trees_are_bounded(gql: GraphQLClient) -> None:
    # Past SQLite's expression depth and Python's recursion limit these were 500s:
    # "Expression tree is too large", RecursionError while compiling.
    query = "query ($w: TaskWhere) { tasks(where: $w) { totalCount } }"
    wide = {"or": [{"title": {"eq": f"t{i}"}} for i in range(1_000)]}
    for where in (wide, _nested("not", 40), _nested("parent", 40), _nested("and", 40)):
        response = await gql(query, {"w": where})
        assert response.codes == ["BAD_USER_INPUT"], response.body
        assert "filter" in response.errors[0]["message"]
    # The deepest and widest trees accepted compile on both databases, also where a
    # filter sits inside a nested page's statement (SQLite's parser stack is small).
    assignee = {"assignees": {"handle": {"eq": "@nobody"}}}
    nearly = [
        {"or": [{"title": {"eq": f"t{i}"}} for i in range(240)]},
        _nested("parent", 7),
        _nested("not", 7),
        _nested("parent", 6, assignee),
        {"and": [_nested("parent", 5, assignee), _nested("not", 6)] * 20},
    ]
    nested_page = """query ($w: TaskWhere) {
      tasks(first: 2) { nodes { subtasks(where: $w) { totalCount nodes { id } } } }
      taskStats(where: $w) { total }
      projects(first: 2) { nodes { tasks(where: $w) { totalCount } } }
    }"""
    for where in nearly:
        assert (await gql(query, {"w": where})).data == {"tasks": {"totalCount": 0}}
        assert (await gql(nested_page, {"w": where})).data is not None


@pytest.mark.parametrize(
    "document",
    [
        "{ " + "me { handle } " * 1_500 + "}",
        "{ me { " + "handle " * 5_000 + "} }",
        "{ tasks { nodes { " + "... on Task { id } " * 1_500 + "} } }",
    ],
    ids=["root fields", "leaf fields", "inline fragments"],
)
async def test_repeated_fields_are_refused_before_validation(
    gql: GraphQLClient, statements: StatementCounter, document: str
) -> None:
    # graphql-core compares the fields of one response name pairwise: a few hundred
    # kilobytes of one repeated field held the event loop for seconds.
    started = time.perf_counter()
    error = await _rejected_without_sql(gql, statements, document)
    assert time.perf_counter() - started < 2.5
    assert "repeats" in error["message"]
    assert (await gql("{ me { handle handle ... on Worker { handle } } }")).data is not None


async def test_token_limit_stops_parsing(gql: GraphQLClient, statements: StatementCounter) -> None:
    # 900 KB of tokens took seconds of CPU to parse before the repeat limit could look:
    # the parser now stops at the limit (its message says so), whatever the document's size.
    error = await _rejected_without_sql(gql, statements, "{ me { " + "__typename " * 90_000 + "} }")
    assert "10000 tokens" in error["message"]
