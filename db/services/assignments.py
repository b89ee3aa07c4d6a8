"""Task assignments: who works on what, in which role."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.errors import Conflict, NotFound
from db.models import AssignmentRole, AuditAction, TaskAssignment
from db.services import audit
from db.services.audit import Entry
from db.services.base import is_unique_violation
from db.services.caller import Caller
from db.services.catalog import ASSIGNMENT, TASK, WORKER

# The worker's columns ride along with each assignment under these labels.
WORKER_PREFIX = "worker__"


async def for_tasks(
    session: AsyncSession, team_id: int, task_ids: Sequence[int]
) -> dict[int, list[Any]]:
    """Each task's assignments with their workers' columns (`worker__<column>`) in the row:
    `assignments { worker { ... } }` is the common shape, and this answers it in one statement."""
    worker_columns = [column.label(WORKER_PREFIX + column.name) for column in WORKER.c]
    stmt = (
        sa.select(ASSIGNMENT, *worker_columns)
        .join(WORKER, sa.and_(WORKER.c.id == ASSIGNMENT.c.worker_id, WORKER.c.team_id == team_id))
        .where(ASSIGNMENT.c.team_id == team_id, ASSIGNMENT.c.task_id.in_(list(task_ids)))
        .order_by(ASSIGNMENT.c.task_id, ASSIGNMENT.c.assigned_at, ASSIGNMENT.c.worker_id)
    )
    return await _grouped(session, stmt, "task_id", task_ids)


async def for_workers(
    session: AsyncSession, team_id: int, worker_ids: Sequence[int]
) -> dict[int, list[Any]]:
    stmt = (
        sa.select(ASSIGNMENT)
        .where(ASSIGNMENT.c.team_id == team_id, ASSIGNMENT.c.worker_id.in_(list(worker_ids)))
        .order_by(ASSIGNMENT.c.worker_id, ASSIGNMENT.c.assigned_at, ASSIGNMENT.c.task_id)
    )
    return await _grouped(session, stmt, "worker_id", worker_ids)


async def _grouped(
    session: AsyncSession, stmt: sa.Select[Any], key: str, ids: Sequence[int]
) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row._mapping[key]].append(row)
    return {i: grouped.get(i, []) for i in ids}


# -- writes ---------------------------------------------------------------------------


def assignment_id(task_id: int, worker_id: int) -> str:
    """Assignments have no id of their own: the audit log names them `task:worker`."""
    return f"{task_id}:{worker_id}"


def assigned_entry(
    task_id: int, worker_id: int, role: AssignmentRole, project_id: int | None
) -> Entry:
    return Entry(
        assignment_id(task_id, worker_id),
        audit.created({"task_id": task_id, "worker_id": worker_id, "role": role}),
        project_id,
    )


async def assign(
    session: AsyncSession,
    caller: Caller,
    task_id: int,
    worker_ids: Sequence[int],
    role: AssignmentRole,
) -> list[TaskAssignment]:
    """Assign workers to a task of the team; any of them already on it is a Conflict."""
    team_id = caller.team_id
    unique = list(dict.fromkeys(worker_ids))
    project_id = await _task_project(session, team_id, task_id)
    found = set(
        (
            await session.execute(
                sa.select(WORKER.c.id).where(WORKER.c.team_id == team_id, WORKER.c.id.in_(unique))
            )
        ).scalars()
    )
    missing = [worker_id for worker_id in unique if worker_id not in found]
    if missing:
        raise NotFound(f"Worker {missing[0]} not found", field="workerId")
    taken = (
        await session.execute(
            sa.select(ASSIGNMENT.c.worker_id).where(
                ASSIGNMENT.c.task_id == task_id, ASSIGNMENT.c.worker_id.in_(unique)
            )
        )
    ).first()
    if taken is not None:
        raise Conflict(f"Worker {taken[0]} is already assigned to Task {task_id}")
    links = [
        TaskAssignment(team_id=team_id, task_id=task_id, worker_id=w, role=role) for w in unique
    ]
    session.add_all(links)
    try:
        await session.flush()
    except IntegrityError as exc:
        # A concurrent assignment of the same worker committed first.
        if is_unique_violation(exc):
            raise Conflict(f"the worker is already assigned to Task {task_id}") from exc
        raise
    audit.record(
        session,
        caller,
        AuditAction.ASSIGN,
        TaskAssignment,
        [assigned_entry(task_id, link.worker_id, role, project_id) for link in links],
    )
    return links


async def unassign(session: AsyncSession, caller: Caller, task_id: int, worker_id: int) -> None:
    team_id = caller.team_id
    project_id = await _task_project(session, team_id, task_id)
    deleted = (
        await session.execute(
            sa.delete(ASSIGNMENT)
            .where(
                ASSIGNMENT.c.team_id == team_id,
                ASSIGNMENT.c.task_id == task_id,
                ASSIGNMENT.c.worker_id == worker_id,
            )
            .returning(ASSIGNMENT.c.role)
        )
    ).first()
    if deleted is None:
        raise NotFound(f"Worker {worker_id} is not assigned to Task {task_id}", field="workerId")
    audit.record(
        session,
        caller,
        AuditAction.UNASSIGN,
        TaskAssignment,
        [
            Entry(
                assignment_id(task_id, worker_id),
                audit.deleted({"task_id": task_id, "worker_id": worker_id, "role": deleted.role}),
                project_id,
            )
        ],
    )


async def _task_project(session: AsyncSession, team_id: int, task_id: int) -> int | None:
    """The project of a task of the team (NotFound for any other task)."""
    stmt = sa.select(TASK.c.project_id).where(TASK.c.id == task_id, TASK.c.team_id == team_id)
    row = (await session.execute(stmt)).first()
    if row is None:
        raise NotFound(f"Task {task_id} not found", field="taskId")
    return row.project_id
