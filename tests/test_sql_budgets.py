"""The N+1 guarantee, tested: statements per operation depend on its shape, not on row counts.

Each budget counts every SQL statement of the request but the token lookup, which a
request skips when its token was found live a moment ago (tokens.RecentTokens), and
transaction control. Each shape runs with 5 and with 50 root rows. On PostgreSQL a root
field the JSON compiler builds (db/services/json_reads.py) costs one statement whatever
its shape; SQLite, and fields it does not build, go level by level (one per relation).
"""

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from db.statements import StatementCounter
from tests.datasets import build_forest
from tests.factories import Member, make_member
from tests.graphql_client import GraphQLClient

FILTERED_PAGE = """
query ($n: Int!) {
  tasks(where: {status: {in: [PENDING, IN_PROGRESS]}, title: {contains: "t"}},
        orderBy: [{field: PRIORITY, direction: DESC}, {field: DUE_DATE}], first: $n) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id title status priority dueDate } }
  }
}"""

NESTED_TASKS = """
query ($n: Int!) {
  tasks(where: {parentId: {isNull: true}}, first: $n) {
    nodes {
      id title
      project { id slug }
      parent { id }
      assignments { role assignedAt worker { id handle } }
      subtasks(first: 5) {
        nodes { id title assignments { role worker { id handle } } }
      }
    }
  }
}"""

PROJECTS_WITH_TASKS = """
query ($n: Int!) {
  projects(first: $n) {
    nodes {
      slug
      tasks(first: 10) { totalCount nodes { id title } }
      stats { total averageProgress byStatus { status count } }
    }
  }
}"""

TREES = """
query ($n: Int!) {
  tasks(where: {parentId: {isNull: true}}, first: $n) {
    nodes { id ancestors { id } descendants { id } shallow: descendants(maxDepth: 1) { id } }
  }
}"""

WORKERS_WITH_WORK = """
query ($n: Int!) {
  workers(first: $n) {
    nodes {
      handle
      assignments { role task { id title } }
      tasks(first: 3, orderBy: [{field: CREATED_AT, direction: DESC}]) { totalCount nodes { id } }
    }
  }
}"""


async def _count(gql: GraphQLClient, statements: StatementCounter, query: str, n: int) -> int:
    await gql("{ me { id } }")  # the token's last_used_at is written once, before counting
    statements.reset()
    response = await gql(query, {"n": n})
    assert not response.errors, response.errors
    return len(_work(statements))


def _work(statements: StatementCounter) -> list[str]:
    return [s for s in statements.statements if "FROM api_token" not in s]


def _budget(dialect: str, levels: int, json: int) -> int:
    return levels if dialect == "sqlite" else json


@pytest.mark.parametrize(
    ("query", "levels", "json"),
    [
        (FILTERED_PAGE, 2, 1),  # page, totalCount
        # page, project, assignments with workers, subtasks, their assignments
        (NESTED_TASKS, 5, 1),
        (TREES, 4, 1),  # page, ancestors, descendants, descendants(maxDepth: 1)
    ],
    ids=["filtered-sorted-page", "nested-tasks", "ancestors-descendants"],
)
async def test_task_shapes_cost_the_same_for_5_and_50_roots(
    engine: AsyncEngine,
    http,  # type: ignore[no-untyped-def]
    statements: StatementCounter,
    dialect: str,
    query: str,
    levels: int,
    json: int,
) -> None:
    budget = _budget(dialect, levels, json)
    counts = []
    for roots in (5, 50):
        member = await make_member(engine)
        await build_forest(engine, member, roots=roots, projects=3)
        counts.append(await _count(GraphQLClient(http, member.token), statements, query, roots))
    assert counts == [budget, budget], (counts, statements.statements)


async def test_projects_with_tasks_and_stats(
    engine: AsyncEngine,
    http,
    statements: StatementCounter,  # type: ignore[no-untyped-def]
    dialect: str,
) -> None:
    counts = []
    for projects in (5, 50):
        member = await make_member(engine)
        await build_forest(engine, member, roots=projects * 2, projects=projects)
        counts.append(
            await _count(
                GraphQLClient(http, member.token), statements, PROJECTS_WITH_TASKS, projects
            )
        )
    # page, tasks per project, their totalCounts, stats per project
    budget = _budget(dialect, 4, 1)
    assert counts == [budget, budget], statements.statements


async def test_workers_with_assignments_and_tasks(
    engine: AsyncEngine,
    http,
    statements: StatementCounter,  # type: ignore[no-untyped-def]
    dialect: str,
) -> None:
    counts = []
    for workers in (5, 50):
        member = await make_member(engine)
        await build_forest(engine, member, roots=workers, workers=workers)
        counts.append(
            await _count(GraphQLClient(http, member.token), statements, WORKERS_WITH_WORK, workers)
        )
    # page, assignments, their tasks, tasks per worker, their totalCounts
    budget = _budget(dialect, 5, 1)
    assert counts == [budget, budget], statements.statements


async def test_a_single_task_with_its_tree(
    engine: AsyncEngine,
    http,
    statements: StatementCounter,
    member: Member,  # type: ignore[no-untyped-def]
    dialect: str,
) -> None:
    forest = await build_forest(engine, member, roots=3)
    child = forest.children[forest.root_ids[0]][0]
    query = "query ($id: ID!) { task(id: $id) { id ancestors { id } descendants { id } } }"
    gql = GraphQLClient(http, member.token)
    await gql("{ me { id } }")
    statements.reset()
    data = (await gql(query, {"id": child})).data
    assert [a["id"] for a in data["task"]["ancestors"]] == [str(forest.root_ids[0])]
    assert data["task"]["descendants"] == [{"id": str(i)} for i in forest.children[child]]
    assert len(_work(statements)) == _budget(dialect, 3, 1)  # task, ancestors, descendants


async def test_a_read_on_postgresql_runs_inside_its_timed_transaction(
    engine: AsyncEngine,
    http,  # type: ignore[no-untyped-def]
    member: Member,
    dialect: str,
) -> None:
    """The statement timeout rides on the transaction's BEGIN (db/statement_timeout.py): a
    statement outside a transaction would run without it."""
    if dialect != "postgresql":
        pytest.skip("the statement timeout is PostgreSQL's")
    await build_forest(engine, member, roots=2)
    gql = GraphQLClient(http, member.token)
    await gql("{ me { id } }")
    seen: list[bool] = []

    def record(conn, *_args):  # type: ignore[no-untyped-def]
        seen.append(conn.connection.driver_connection.is_in_transaction())

    event.listen(engine.sync_engine, "after_cursor_execute", record)
    try:
        response = await gql("{ tasks { totalCount nodes { id project { id } } } }")
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", record)
    assert not response.errors
    assert seen and all(seen), seen
