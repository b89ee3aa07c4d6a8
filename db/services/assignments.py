"""Task assignments: who works on what, in which role."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.services.catalog import ASSIGNMENT, WORKER

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
        .join(WORKER, WORKER.c.id == ASSIGNMENT.c.worker_id)
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
