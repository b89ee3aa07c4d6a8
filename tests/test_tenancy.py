"""A second team's token sees nothing of the first team, through any door."""

import uuid
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import AuditAction
from db.services.catalog import ASSIGNMENT, AUDIT, TASK, WORKER
from tests.conftest import tenancy_inspector
from tests.datasets import build_forest
from tests.factories import make_member
from tests.graphql_client import GraphQLClient
from tests.tenancy_inspector import unscoped_tenant_tables


async def test_nothing_leaks_across_teams(engine: AsyncEngine, http: httpx.AsyncClient) -> None:
    alice_team = await make_member(engine)
    bob_team = await make_member(engine)
    theirs = await build_forest(engine, alice_team, roots=4)
    mine = await build_forest(engine, bob_team, roots=2)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(AUDIT),
            {
                "team_id": alice_team.team_id,
                "action": AuditAction.CREATE,
                "entity_type": "Task",
                "entity_id": str(theirs.root_ids[0]),
                "actor_id": alice_team.worker_id,
                "changes": {},
            },
        )
        # A row that should never exist: my task under their parent. Reads must still not cross.
        await conn.execute(
            sa.update(TASK)
            .where(TASK.c.id == mine.root_ids[0])
            .values(parent_id=theirs.root_ids[0])
        )
        their_task_ids = [
            r[0]
            for r in await conn.execute(
                sa.select(TASK.c.id).where(TASK.c.team_id == alice_team.team_id)
            )
        ]
        my_task_ids = {
            str(r[0])
            for r in await conn.execute(
                sa.select(TASK.c.id).where(TASK.c.team_id == bob_team.team_id)
            )
        }

    gql = GraphQLClient(http, bob_team.token)
    alice = GraphQLClient(http, alice_team.token)

    async def data(query: str, variables: dict[str, Any] | None = None) -> Any:
        response = await gql(query, variables)
        assert not response.errors, response.errors
        return response.data

    # Lookups by their ids answer null, as for ids that do not exist.
    lookups = await data(
        "query ($t: ID!, $p: ID!, $w: ID!) { task(id: $t) { id } project(id: $p) { id } worker(id: $w) { id } }",
        {"t": theirs.root_ids[0], "p": theirs.project_ids[0], "w": theirs.worker_ids[1]},
    )
    assert lookups == {"task": None, "project": None, "worker": None}
    # Same slug and handle in both teams: each sees its own.
    same = await data('{ project(slug: "p0") { id } worker(handle: "@w0") { id } }')
    assert same["project"]["id"] == str(mine.project_ids[0])
    assert same["worker"]["id"] == str(mine.worker_ids[1])

    everything = await data("""{
        tasks(first: 100) { totalCount nodes { id parent { id } ancestors { id } descendants { id }
          project { id } assignments { worker { id } } workers { id } subtasks { totalCount } } }
        projects { totalCount nodes { id tasks(first: 100) { totalCount nodes { id } } stats { total } } }
        workers { totalCount nodes { id tasks(first: 100) { totalCount nodes { id } } assignments { task { id } } } }
        taskStats { total }
        auditLog { totalCount }
        team { id }
    }""")
    assert {n["id"] for n in everything["tasks"]["nodes"]} == my_task_ids
    assert everything["tasks"]["totalCount"] == len(my_task_ids)
    assert everything["taskStats"]["total"] == len(my_task_ids)
    assert everything["auditLog"]["totalCount"] == 0
    assert everything["team"]["id"] == str(bob_team.team_id)
    my_worker_ids = {str(i) for i in mine.worker_ids}
    seen_tasks: set[str] = set()
    seen_workers: set[str] = set()
    for node in everything["tasks"]["nodes"]:
        seen_tasks |= {t["id"] for t in node["ancestors"] + node["descendants"]}
        seen_tasks |= {node["parent"]["id"]} if node["parent"] else set()
        seen_workers |= {w["id"] for w in node["workers"]}
        seen_workers |= {a["worker"]["id"] for a in node["assignments"]}
    for project in everything["projects"]["nodes"]:
        seen_tasks |= {t["id"] for t in project["tasks"]["nodes"]}
    for worker in everything["workers"]["nodes"]:
        seen_workers.add(worker["id"])
        seen_tasks |= {t["id"] for t in worker["tasks"]["nodes"]}
        seen_tasks |= {a["task"]["id"] for a in worker["assignments"]}
    assert seen_tasks <= my_task_ids
    assert seen_workers <= my_worker_ids
    assert not seen_tasks & {str(i) for i in their_task_ids}
    corrupted = next(n for n in everything["tasks"]["nodes"] if n["id"] == str(mine.root_ids[0]))
    assert corrupted["parent"] is None and corrupted["ancestors"] == []
    assert everything["projects"]["totalCount"] == len(mine.project_ids)
    assert sum(p["stats"]["total"] for p in everything["projects"]["nodes"]) == len(my_task_ids)

    # Filters naming their ids, through relationships too, find nothing.
    where_cases = [
        {"id": {"in": [str(i) for i in their_task_ids]}},
        {"projectId": {"eq": str(theirs.project_ids[0])}},
        {"project": {"id": {"eq": str(theirs.project_ids[0])}}},
        {"parentId": {"in": [str(i) for i in theirs.root_ids[1:]]}},
        {"parent": {"id": {"in": [str(i) for i in theirs.root_ids]}}},
        {"assignees": {"id": {"in": [str(i) for i in theirs.worker_ids]}}},
    ]
    for where in where_cases:
        found = await data(
            "query ($w: TaskWhere) { tasks(where: $w) { totalCount } taskStats(where: $w) { total } }",
            {"w": where},
        )
        assert found == {"tasks": {"totalCount": 0}, "taskStats": {"total": 0}}, where

    # Their cursor positions my pages and nothing more.
    their_page = (
        await alice("{ tasks(first: 3, orderBy: [{field: TITLE}]) { pageInfo { endCursor } } }")
    ).data
    cursor = their_page["tasks"]["pageInfo"]["endCursor"]
    page = await data(
        "query ($c: String) { tasks(first: 100, after: $c, orderBy: [{field: TITLE}]) { nodes { id } } }",
        {"c": cursor},
    )
    assert {n["id"] for n in page["tasks"]["nodes"]} <= my_task_ids


def test_the_inspector_finds_tenant_tables_without_their_team() -> None:
    parent = TASK.alias()
    scoped = sa.select(TASK).where(TASK.c.team_id == 1)
    assert unscoped_tenant_tables(scoped) == set()
    assert unscoped_tenant_tables(sa.select(TASK).where(TASK.c.id == 1)) == {"task"}
    # An alias is a reference of its own: the outer table's team does not cover it.
    through = scoped.where(
        sa.exists().where(parent.c.id == TASK.c.parent_id, parent.c.title == "x")
    )
    assert unscoped_tenant_tables(through) == {"task"}
    joined = sa.select(ASSIGNMENT).join(WORKER, WORKER.c.id == ASSIGNMENT.c.worker_id)
    assert unscoped_tenant_tables(joined.where(ASSIGNMENT.c.team_id == 1)) == {"worker"}


async def test_the_planned_statements_of_a_read_are_inspected(
    engine: AsyncEngine, http: httpx.AsyncClient, dialect: str
) -> None:
    member = await make_member(engine)
    await build_forest(engine, member, roots=2)
    before = tenancy_inspector().inspected
    # An alias no other request used: the planner's statements are inspected when first
    # built (db/services/json_reads.PREPARED serves an identical plan from its cache).
    alias = f"t{uuid.uuid4().hex}"
    response = await GraphQLClient(http, member.token)(
        f"{{ tasks {{ {alias}: nodes {{ project {{ id }} subtasks {{ nodes {{ id }} }}"
        " assignments { worker { id } } } } }"
    )
    assert not response.errors
    # SQLite: page, projects, subtasks, assignments; PostgreSQL: the one JSON statement
    assert tenancy_inspector().inspected - before >= (4 if dialect == "sqlite" else 1)
