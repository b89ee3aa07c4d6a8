"""Where the GraphQL spec is clear, taskql answers as it says, on both databases."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.statements import StatementCounter
from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.factories import Member, add_project
from tests.graphql_client import GraphQLClient, Response


async def _refused_before_sql(
    gql: GraphQLClient,
    statements: StatementCounter,
    query: str,
    variables: dict[str, Any] | None = None,
) -> Response:
    statements.reset()
    response = await gql(query, variables)
    assert response.status == 200
    assert response.body["data"] is None, response.body
    assert response.codes and set(response.codes) == {"BAD_USER_INPUT"}, response.body
    assert statements.statements == []
    return response


# --- operation selection -------------------------------------------------------------------

TWO = "query A { me { handle } } query B { team { slug } }"


async def test_several_operations_without_a_name_are_refused(
    gql: GraphQLClient, statements: StatementCounter
) -> None:
    response = await _refused_before_sql(gql, statements, TWO)
    assert response.errors[0]["message"] == (
        "Must provide operation name if query contains multiple operations."
    )


async def test_the_named_operation_of_several_runs(gql: GraphQLClient, member: Member) -> None:
    response = await gql.http.post(
        "/graphql",
        json={"query": TWO, "operationName": "B"},
        headers={"Authorization": f"Bearer {member.token}"},
    )
    assert response.json() == {"data": {"team": {"slug": member.team_slug}}}
    assert (await gql("query Only { me { handle } }")).data == {"me": {"handle": "@tester"}}


# --- Int coercion --------------------------------------------------------------------------


@pytest.mark.parametrize("value", [3_000_000_000, -3_000_000_000, 2**31])
async def test_an_int_variable_outside_32_bits_is_a_coercion_error(
    gql: GraphQLClient, statements: StatementCounter, value: int
) -> None:
    response = await _refused_before_sql(
        gql, statements, "query ($n: Int) { tasks(first: $n) { totalCount } }", {"n": value}
    )
    message = response.errors[0]["message"]
    assert message.startswith("Variable '$n' has invalid value")
    assert "32-bit" in message and "rows" not in message


async def test_coercion_errors_come_before_the_row_budget(
    gql: GraphQLClient, statements: StatementCounter
) -> None:
    # Over the row budget with any valid $n, and $n itself is not an Int.
    query = """query ($n: Int, $p: Int) {
        projects(first: 100) { nodes { tasks(first: 100) { nodes { subtasks(first: $n) { nodes {
        id } } } } } }
        tasks(where: {progressPercent: {eq: $p}}) { totalCount } }"""
    response = await _refused_before_sql(gql, statements, query, {"n": 100, "p": 2**40})
    assert [e["message"].split(":")[0] for e in response.errors] == [
        "Variable '$p' has invalid value"
    ]
    response = await _refused_before_sql(gql, statements, query, {"n": 100, "p": 1})
    assert "rows" in response.errors[0]["message"]


async def test_an_int_literal_outside_32_bits_is_refused_anywhere(
    gql: GraphQLClient, statements: StatementCounter
) -> None:
    response = await _refused_before_sql(
        gql, statements, "{ tasks(where: {progressPercent: {in: [1, 3000000000]}}) { totalCount } }"
    )
    assert "32-bit" in response.errors[0]["message"]


# --- page sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ tasks(first: 101) { totalCount } }", None),
        ("{ tasks(first: 60000) { totalCount } }", None),
        ("query ($n: Int) { tasks(first: $n) { totalCount } }", {"n": 60000}),
        ("{ projects { nodes { tasks(first: 60000) { totalCount } } } }", None),
        ("{ workers(last: 60000) { totalCount } }", None),
    ],
)
async def test_every_page_too_large_gets_the_page_size_message(
    gql: GraphQLClient, engine: AsyncEngine, member: Member, query: str, variables: Any
) -> None:
    await add_project(engine, member, slug="p")
    response = await gql(query, variables)
    assert response.codes == ["BAD_USER_INPUT"]
    (error,) = response.errors
    argument = "last" if "last:" in query else "first"
    assert error["message"] == f"{argument} must be at most 100"
    assert error["extensions"]["field"] == argument


# --- suggestions ---------------------------------------------------------------------------

MISTAKES: list[tuple[str, dict[str, Any] | None]] = [
    ("{ taskz { totalCount } }", None),
    ("{ tasks(wher: {}) { totalCount } }", None),
    ("{ tasks(where: {status: {eq: PENDIN}}) { totalCount } }", None),
    ("{ tasks { totalCount } } fragment f on Taskk { id }", None),
    ("query ($s: TaskStatus) { tasks(where: {status: {eq: $s}}) { totalCount } }", {"s": "PENDIN"}),
    ("query ($w: TaskWhere) { tasks(where: $w) { totalCount } }", {"w": {"titl": {"eq": "x"}}}),
]


@pytest.fixture
async def closed(
    database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> AsyncIterator[GraphQLClient]:
    """An app with introspection switched off, on the test database."""
    app = create_app(database.settings(introspection=False), engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield GraphQLClient(http, member.token)


@pytest.mark.parametrize(("query", "variables"), MISTAKES)
async def test_no_suggestions_when_introspection_is_off(
    gql: GraphQLClient,
    closed: GraphQLClient,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    def messages(response: Response) -> str:
        assert response.codes and set(response.codes) == {"BAD_USER_INPUT"}, response.body
        return " ".join(error["message"] for error in response.errors)

    assert "Did you mean" in messages(await gql(query, variables))
    assert "Did you mean" not in messages(await closed(query, variables))


# --- NUL characters ------------------------------------------------------------------------

NUL_LITERALS = [
    '{ project(slug: "a\\u0000") { id } }',
    '{ tasks(where: {title: {eq: "a\\u0000b"}}) { totalCount } }',
    '{ tasks(where: {or: [{title: {in: ["a", "\\u0000"]}}]}) { totalCount } }',
    '{ tasks(where: {project: {name: {contains: "\\u0000"}}}) { totalCount } }',
    'query ($t: String = "x\\u0000") { tasks(where: {title: {eq: $t}}) { totalCount } }',
    'mutation { createProject(input: {name: "a\\u0000b", slug: "nul"}) { id } }',
    'mutation { createTasks(input: [{title: "fine"}, {title: "x", description: "\\u0000"}]) { id } }',
]

NUL_VARIABLES: list[tuple[str, dict[str, Any]]] = [
    ("query ($s: String) { project(slug: $s) { id } }", {"s": "a\x00"}),
    ("query ($h: String!) { worker(handle: $h) { id } }", {"h": "@a\x00"}),
    ("query ($w: TaskWhere) { tasks(where: $w) { totalCount } }", {"w": {"title": {"eq": "\x00"}}}),
    (
        "query ($w: TaskWhere) { tasks(where: $w) { totalCount } }",
        {"w": {"and": [{"title": {"notIn": ["a", "b\x00c"]}}]}},
    ),
    ("query ($t: [String!]) { tasks(where: {title: {in: $t}}) { totalCount } }", {"t": ["\x00"]}),
    (
        "mutation ($i: CreateProjectInput!) { createProject(input: $i) { id } }",
        {"i": {"name": "N\x00", "slug": "nul"}},
    ),
    (
        "mutation ($i: [CreateTaskInput!]!) { createTasks(input: $i) { id } }",
        {"i": [{"title": "fine"}, {"title": "\x00"}]},
    ),
    (
        'mutation ($d: String) { createTask(input: {title: "t", description: $d}) { id } }',
        {"d": "\x00"},
    ),
]


async def _nothing_written(gql: GraphQLClient) -> None:
    data = (await gql("{ tasks { totalCount } projects { totalCount } }")).data
    assert data == {"tasks": {"totalCount": 0}, "projects": {"totalCount": 0}}


@pytest.mark.parametrize("query", NUL_LITERALS)
async def test_a_nul_in_a_string_literal_is_bad_user_input(
    gql: GraphQLClient, statements: StatementCounter, query: str
) -> None:
    response = await _refused_before_sql(gql, statements, query)
    assert "NUL" in response.errors[0]["message"]
    await _nothing_written(gql)


@pytest.mark.parametrize(("query", "variables"), NUL_VARIABLES)
async def test_a_nul_in_a_string_variable_is_bad_user_input(
    gql: GraphQLClient, statements: StatementCounter, query: str, variables: dict[str, Any]
) -> None:
    response = await _refused_before_sql(gql, statements, query, variables)
    (name,) = variables
    assert response.errors[0]["message"].startswith(f"Variable '${name}': ")
    assert "NUL" in response.errors[0]["message"]
    await _nothing_written(gql)


def _with(value: Any, char: str) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", char)
    if isinstance(value, list):
        return [_with(item, char) for item in value]
    if isinstance(value, dict):
        return {key: _with(item, char) for key, item in value.items()}
    return value


@pytest.mark.parametrize(("query", "variables"), NUL_VARIABLES)
async def test_an_unpaired_surrogate_in_a_string_variable_is_bad_user_input(
    gql: GraphQLClient, statements: StatementCounter, query: str, variables: dict[str, Any]
) -> None:
    # JSON may escape half of a surrogate pair ("\ud800"); no database stores it as
    # text: SQLite's driver failed to encode it (a 500), PostgreSQL's too.
    response = await _refused_before_sql(gql, statements, query, _with(variables, "\ud800"))
    (name,) = variables
    assert response.errors[0]["message"].startswith(f"Variable '${name}': ")
    assert "surrogate" in response.errors[0]["message"]
    await _nothing_written(gql)


async def test_strings_without_nul_still_work(gql: GraphQLClient) -> None:
    created = await gql(
        "mutation ($i: CreateProjectInput!) { createProject(input: $i) { name } }",
        {"i": {"name": "tab\there \\0 and \u00e9", "slug": "fine"}},
    )
    assert created.data == {"createProject": {"name": "tab\there \\0 and \u00e9"}}
    found = await gql("query ($s: String) { project(slug: $s) { name } }", {"s": "fine"})
    assert found.data == {"project": {"name": "tab\there \\0 and \u00e9"}}
