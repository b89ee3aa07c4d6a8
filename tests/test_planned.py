"""The planned read path answers the benchmark's reads itself, and hands anything it cannot
answer to graphql-core. That both paths answer alike is checked on every read of the suite
(tests/parity.py); here, that the plan is really taken, and when it is not."""

import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.settings import Settings
from tests.datasets import build_forest
from tests.factories import Member
from tests.graphql_client import GraphQLClient

# The five questions of ../shared/bench (q1 to q5), in taskql's dialect.
BENCHMARK = {
    "q1_list": """{ tasks(first: 50, orderBy: [{field: CREATED_AT, direction: DESC}]) {
        nodes { id title description status priority progressPercent dueDate createdAt
                updatedAt projectId parentId } } }""",
    "q2_nested": """{ tasks(first: 50, where: {parentId: {isNull: true}}) { nodes {
        id title project { name } assignments { role worker { handle } }
        subtasks(first: 10) { nodes { id title assignments { worker { handle } } } } } } }""",
    "q3_filter": """{ tasks(first: 50, where: {status: {in: [PENDING, IN_PROGRESS]},
        priority: {eq: HIGH}, title: {ilike: "%t%"}}) { totalCount nodes { id title status priority } } }""",
    "q4_single": """query ($id: ID!) { task(id: $id) { id title status priority progressPercent
        dueDate createdAt project { id name slug } parent { id title status } } }""",
    "q5_deep_page": """query ($after: String) { tasks(first: 50, after: $after) {
        nodes { id title status priority createdAt } } }""",
}


@pytest.fixture
def fallbacks(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="taskql.planned")
    return caplog


async def benchmark_variables(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> dict[str, dict[str, str]]:
    """A forest to read, and the variables q4 (a task) and q5 (a cursor) need on it."""
    forest = await build_forest(engine, member, roots=8)
    child = forest.children[forest.root_ids[2]][0]
    page = await gql(
        "query ($id: ID!) { tasks(first: 1, where: {id: {eq: $id}}) { pageInfo { endCursor } } }",
        {"id": str(child)},
    )
    return {
        "q4_single": {"id": str(child)},
        "q5_deep_page": {"after": page.data["tasks"]["pageInfo"]["endCursor"]},
    }


async def test_the_benchmark_reads_are_planned(
    engine: AsyncEngine, member: Member, gql: GraphQLClient, fallbacks: pytest.LogCaptureFixture
) -> None:
    variables = await benchmark_variables(engine, member, gql)
    for name, query in BENCHMARK.items():
        fallbacks.clear()
        response = await gql(query, variables.get(name))
        assert response.data, name
        assert not fallbacks.records, (name, fallbacks.text)


async def test_what_the_plan_cannot_answer_graphql_core_does(
    engine: AsyncEngine, member: Member, gql: GraphQLClient, fallbacks: pytest.LogCaptureFixture
) -> None:
    await build_forest(engine, member, roots=3)
    # A nested page too large for one parent: each parent's resolver raises, with its path.
    response = await gql(
        "{ tasks(first: 2) { nodes { id subtasks(first: 1000) { totalCount } } } }"
    )
    assert response.codes and set(response.codes) == {"BAD_USER_INPUT"}
    assert response.errors[0]["path"][:3] == ["tasks", "nodes", 0]
    assert "graphql-core answers instead" in fallbacks.text
    fallbacks.clear()
    # A nullable root field that fails is null beside the fields that succeed.
    response = await gql('{ project(slug: "p0") { slug } worker { id } me { handle } }')
    assert response.body["data"]["project"] == {"slug": "p0"}
    assert response.body["data"]["worker"] is None
    assert response.codes == ["BAD_USER_INPUT"]


def test_the_planner_switch() -> None:
    assert Settings().planner is True
    assert Settings(TASKQL_PLANNER="off").planner is False  # type: ignore[call-arg]
    assert Settings(TASKQL_PLANNER="on").planner is True  # type: ignore[call-arg]


async def test_parity_fails_a_test_when_the_paths_differ() -> None:
    import httpx

    from tests.parity import ParityTransport

    def answering(body: bytes):  # type: ignore[no-untyped-def]
        async def app(scope, receive, send):  # type: ignore[no-untyped-def]
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})

        return app

    transport = ParityTransport(answering(b'{"a":1,"b":2}'), answering(b'{"b":2,"a":1}'))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(AssertionError, match="answer differently"):
            await client.post("/graphql", json={"query": "{ me { id } }"})
        # Writes are sent once, to the app under test only.
        await client.post("/graphql", json={"query": "mutation { deleteTask(id: 1) }"})
    assert transport.compared == 1
