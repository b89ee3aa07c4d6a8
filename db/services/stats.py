"""Task statistics: totals per status and the average progress, for any filter or project."""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models.enums import TaskStatus
from db.services.catalog import TASK, TASKS
from db.services.filters import Tree
from db.services.row_reads import scoped


@dataclass(frozen=True)
class TaskStats:
    total: int
    by_status: dict[TaskStatus, int]
    average_progress: float | None


def _stats(rows: Sequence[tuple[TaskStatus, int, int]]) -> TaskStats:
    by_status = dict.fromkeys(TaskStatus, 0)
    progress_sum = 0
    for status, count, progress in rows:
        by_status[status] = int(count)
        progress_sum += int(progress or 0)
    total = sum(by_status.values())
    return TaskStats(total, by_status, progress_sum / total if total else None)


def _aggregates() -> tuple[sa.ColumnElement[int], sa.ColumnElement[int]]:
    return sa.func.count(), sa.func.sum(TASK.c.progress_percent)


async def task_stats(session: AsyncSession, team_id: int, where: Tree | None) -> TaskStats:
    stmt = (
        sa.select(TASK.c.status, *_aggregates())
        .where(scoped(TASKS, team_id, where))
        .group_by(TASK.c.status)
    )
    return _stats([tuple(row) for row in (await session.execute(stmt)).all()])


async def project_stats(
    session: AsyncSession, team_id: int, project_ids: Sequence[int]
) -> dict[int, TaskStats]:
    stmt = (
        sa.select(TASK.c.project_id, TASK.c.status, *_aggregates())
        .where(scoped(TASKS, team_id, None), TASK.c.project_id.in_(list(project_ids)))
        .group_by(TASK.c.project_id, TASK.c.status)
    )
    grouped: dict[int, list[tuple[TaskStatus, int, int]]] = {pid: [] for pid in project_ids}
    for project_id, status, count, progress in (await session.execute(stmt)).all():
        grouped[project_id].append((status, count, progress))
    return {pid: _stats(rows) for pid, rows in grouped.items()}
