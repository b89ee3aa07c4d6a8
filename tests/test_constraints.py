"""The database itself enforces the rules, on both dialects: a violating write raises."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Member


async def _insert(engine: AsyncEngine, sql: str, **params: Any) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


PROJECT = (
    "INSERT INTO project (team_id, name, slug, created_at, updated_at)"
    " VALUES (:team, :name, :slug, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
TASK = (
    "INSERT INTO task (team_id, title, status, priority, progress_percent, project_id, parent_id,"
    " created_at, updated_at) VALUES (:team, :title, :status, 1, :progress, :project, :parent,"
    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)
WORKER = (
    "INSERT INTO worker (team_id, handle, name, type, created_at)"
    " VALUES (:team, :handle, 'W', :type, CURRENT_TIMESTAMP)"
)
ASSIGN = (
    "INSERT INTO task_assignment (team_id, task_id, worker_id, role, assigned_at)"
    " VALUES (:team, :task, :worker, 'ASSIGNEE', CURRENT_TIMESTAMP)"
)


def _task(member: Member, **overrides: Any) -> dict[str, Any]:
    return {
        "team": member.team_id,
        "title": "ok",
        "status": 0,
        "progress": 0,
        "project": None,
        "parent": None,
        **overrides,
    }


async def _scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


VIOLATIONS: list[tuple[str, Callable[[Member], tuple[str, dict[str, Any]]]]] = [
    ("empty title", lambda m: (TASK, _task(m, title=""))),
    ("title over 200", lambda m: (TASK, _task(m, title="x" * 201))),
    ("progress over 100", lambda m: (TASK, _task(m, progress=101))),
    ("negative progress", lambda m: (TASK, _task(m, progress=-1))),
    ("unknown status", lambda m: (TASK, _task(m, status=7))),
    ("missing project", lambda m: (TASK, _task(m, project=987654321))),
    ("missing parent", lambda m: (TASK, _task(m, parent=987654321))),
    ("missing team", lambda m: (TASK, _task(m, team=987654321))),
    ("handle without @", lambda m: (WORKER, {"team": m.team_id, "handle": "bob", "type": "HUMAN"})),
    (
        "unknown worker type",
        lambda m: (WORKER, {"team": m.team_id, "handle": "@r", "type": "ROBOT"}),
    ),
    (
        "duplicate handle",
        lambda m: (WORKER, {"team": m.team_id, "handle": m.handle, "type": "HUMAN"}),
    ),
]


@pytest.mark.parametrize(("case", "build"), VIOLATIONS, ids=[case for case, _ in VIOLATIONS])
async def test_violation_raises(
    engine: AsyncEngine,
    member: Member,
    case: str,
    build: Callable[[Member], tuple[str, dict[str, Any]]],
) -> None:
    sql, params = build(member)
    # PostgreSQL rejects an over-long VARCHAR (SQLSTATE 22001) before the CHECK runs.
    with pytest.raises(DBAPIError):
        await _insert(engine, sql, **params)


async def test_title_of_200_characters_is_accepted(engine: AsyncEngine, member: Member) -> None:
    await _insert(engine, TASK, **_task(member, title="x" * 200, progress=100))


async def test_project_slug_unique_within_team_only(
    engine: AsyncEngine, member: Member, make_other_member: Callable[[], Any]
) -> None:
    await _insert(engine, PROJECT, team=member.team_id, name="A", slug="alpha")
    with pytest.raises(IntegrityError):
        await _insert(engine, PROJECT, team=member.team_id, name="B", slug="alpha")
    other: Member = await make_other_member()
    await _insert(engine, PROJECT, team=other.team_id, name="A", slug="alpha")


async def test_one_assignment_per_task_and_worker(engine: AsyncEngine, member: Member) -> None:
    await _insert(engine, TASK, **_task(member, title="assign me"))
    task_id = await _scalar(
        engine, "SELECT max(id) FROM task WHERE team_id = :team", team=member.team_id
    )
    params = {"team": member.team_id, "task": task_id, "worker": member.worker_id}
    await _insert(engine, ASSIGN, **params)
    with pytest.raises(IntegrityError):
        await _insert(engine, ASSIGN, **params)


async def test_an_assignment_is_in_its_task_s_team(
    engine: AsyncEngine, member: Member, make_other_member: Callable[[], Any]
) -> None:
    """Held by the database (fk_task_assignment_task_id_team_id_task): a worker's tasks are
    counted from its assignments alone, so none may point into another team's task."""
    await _insert(engine, TASK, **_task(member, title="ours"))
    task_id = await _scalar(
        engine, "SELECT max(id) FROM task WHERE team_id = :team", team=member.team_id
    )
    other: Member = await make_other_member()
    with pytest.raises(IntegrityError):
        await _insert(engine, ASSIGN, team=other.team_id, task=task_id, worker=other.worker_id)


async def test_deleting_a_task_deletes_its_subtree(engine: AsyncEngine, member: Member) -> None:
    await _insert(engine, TASK, **_task(member, title="root"))
    root = await _scalar(engine, "SELECT max(id) FROM task WHERE team_id = :t", t=member.team_id)
    await _insert(engine, TASK, **_task(member, title="child", parent=root))
    await _insert(engine, "DELETE FROM task WHERE id = :id", id=root)
    assert (
        await _scalar(engine, "SELECT count(*) FROM task WHERE team_id = :t", t=member.team_id) == 0
    )


@pytest.fixture
def make_other_member(engine: AsyncEngine) -> Callable[[], Any]:
    from tests.factories import make_member

    return lambda: make_member(engine)
