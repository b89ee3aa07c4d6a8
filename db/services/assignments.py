"""Task assignments: who works on what, in which role."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.services.catalog import ASSIGNMENT


async def for_tasks(
    session: AsyncSession, team_id: int, task_ids: Sequence[int]
) -> dict[int, list[Any]]:
    return await _grouped(session, team_id, ASSIGNMENT.c.task_id, task_ids)


async def for_workers(
    session: AsyncSession, team_id: int, worker_ids: Sequence[int]
) -> dict[int, list[Any]]:
    return await _grouped(session, team_id, ASSIGNMENT.c.worker_id, worker_ids)


async def _grouped(
    session: AsyncSession, team_id: int, key: sa.Column[int], ids: Sequence[int]
) -> dict[int, list[Any]]:
    stmt = (
        sa.select(ASSIGNMENT)
        .where(ASSIGNMENT.c.team_id == team_id, key.in_(list(ids)))
        .order_by(key, ASSIGNMENT.c.assigned_at, ASSIGNMENT.c.task_id, ASSIGNMENT.c.worker_id)
    )
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row._mapping[key.name]].append(row)
    return {i: grouped.get(i, []) for i in ids}
