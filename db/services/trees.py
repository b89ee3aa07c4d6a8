"""Ancestors and descendants of many tasks at once, with recursive CTEs (one statement each)."""

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.services.catalog import TASK

ORIGIN = "origin__"  # the task a row of the result was asked for
# Writes never form a cycle; this bound keeps a corrupted row from looping forever.
MAX_DEPTH = 10_000


async def ancestors(
    session: AsyncSession, team_id: int, task_ids: Sequence[int]
) -> dict[int, list[Any]]:
    """For each task, its ancestors root first, direct parent last."""
    start = TASK.alias("start")
    step = TASK.alias("step")
    walk = (
        sa.select(
            start.c.id.label("origin"),
            start.c.parent_id.label("ancestor_id"),
            sa.literal(1).label("depth"),
        )
        .where(start.c.id.in_(list(task_ids)), start.c.team_id == team_id)
        .where(start.c.parent_id.is_not(None))
        .cte("ancestry", recursive=True)
    )
    walk = walk.union_all(
        sa.select(walk.c.origin, step.c.parent_id, walk.c.depth + 1)
        .join(step, sa.and_(step.c.id == walk.c.ancestor_id, step.c.team_id == team_id))
        .where(step.c.parent_id.is_not(None), walk.c.depth < MAX_DEPTH)
    )
    stmt = (
        sa.select(TASK, walk.c.origin.label(ORIGIN))
        .join(walk, TASK.c.id == walk.c.ancestor_id)
        .where(TASK.c.team_id == team_id)
        .order_by(walk.c.origin, walk.c.depth.desc())
    )
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row._mapping[ORIGIN]].append(row)
    return {task_id: grouped.get(task_id, []) for task_id in task_ids}


async def descendants(
    session: AsyncSession, team_id: int, task_ids: Sequence[int], max_depth: int | None
) -> dict[int, list[Any]]:
    """For each task, its descendants breadth-first (by depth, then id), itself excluded."""
    limit = MAX_DEPTH if max_depth is None else min(max_depth, MAX_DEPTH)
    if limit < 1:
        return {task_id: [] for task_id in task_ids}
    child = TASK.alias("child")
    walk = (
        sa.select(
            TASK.c.parent_id.label("origin"),
            TASK.c.id.label("descendant_id"),
            sa.literal(1).label("depth"),
        )
        .where(TASK.c.parent_id.in_(list(task_ids)), TASK.c.team_id == team_id)
        .cte("descent", recursive=True)
    )
    walk = walk.union_all(
        sa.select(walk.c.origin, child.c.id, walk.c.depth + 1)
        .join(child, sa.and_(child.c.parent_id == walk.c.descendant_id, child.c.team_id == team_id))
        .where(walk.c.depth < limit)
    )
    found = TASK.alias("found")
    stmt = (
        sa.select(found, walk.c.origin.label(ORIGIN))
        .join(walk, found.c.id == walk.c.descendant_id)
        .where(found.c.team_id == team_id)
        .order_by(walk.c.origin, walk.c.depth, found.c.id)
    )
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row._mapping[ORIGIN]].append(row)
    return {task_id: grouped.get(task_id, []) for task_id in task_ids}


async def is_descendant_or_self(
    session: AsyncSession, team_id: int, task_id: int, candidate_id: int
) -> bool:
    """Whether candidate is task_id itself or lies below it: re-parenting there makes a cycle."""
    if task_id == candidate_id:
        return True
    found = await descendants(session, team_id, [task_id], None)
    return any(row.id == candidate_id for row in found[task_id])
