"""Team-scoped reads of rows, shared by every entity: filtered keyset pages, counts, batched
child pages, lookups. The resolver path's reads; the planned path builds JSON instead
(db/services/json_reads.py).

Each function is one SQL statement, whatever the number of rows or parents. Services offer
them for their own entity (`ScopedReads`), so callers name an aggregate, never a table.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from db.services.filters import Condition, Filterable, Tree, compile_where
from db.services.pagination import (
    Page,
    Sortable,
    SortKey,
    Window,
    apply_window,
    decode_cursor,
    make_page,
    order_clauses,
    seek,
)

# Labels of the helper columns of batched child pages; Row reserves names with "_".
PARENT_KEY = "parent_key__"
RANK = "rank__"


@dataclass(frozen=True)
class Entity:
    filterable: Filterable
    sortable: Sortable

    @property
    def table(self) -> sa.Table:
        return self.filterable.table


def scoped(entity: Entity, team_id: int, where: Tree | None) -> Condition:
    table = entity.table
    return sa.and_(
        table.c.team_id == team_id, compile_where(entity.filterable, table, where, team_id)
    )


async def page(
    session: AsyncSession,
    entity: Entity,
    team_id: int,
    where: Tree | None,
    keys: Sequence[SortKey],
    win: Window,
) -> Page:
    table = entity.table
    stmt = sa.select(table).where(scoped(entity, team_id, where))
    stmt = apply_window(stmt, entity.sortable, table, keys, win)
    rows = (await session.execute(stmt)).all()
    return make_page(rows, entity.sortable, keys, win)


async def count(
    session: AsyncSession,
    entity: Entity,
    team_id: int,
    where: Tree | None,
) -> int:
    stmt = (
        sa.select(sa.func.count()).select_from(entity.table).where(scoped(entity, team_id, where))
    )
    return int((await session.execute(stmt)).scalar_one())


@dataclass(frozen=True)
class Partition:
    """How child rows hang off their parents: the parent key, and a join if it is indirect."""

    key: ColumnElement[Any]
    join: Any = None  # a FromClause joined to the entity's table, or None
    link: sa.Table | None = None  # the tenant table the join adds, scoped like the entity


async def child_pages(
    session: AsyncSession,
    entity: Entity,
    team_id: int,
    partition: Partition,
    parent_ids: Sequence[int],
    where: Tree | None,
    keys: Sequence[SortKey],
    win: Window,
) -> dict[int, Page]:
    """The first page of children of every parent, in one statement."""
    table = entity.table
    sortable = entity.sortable
    conditions = [scoped(entity, team_id, where), *_link_scope(partition, team_id)]
    if win.after is not None:
        values = decode_cursor(sortable, keys, win.after)
        conditions.append(seek(sortable, table, keys, values, after=True))
    source = partition.join if partition.join is not None else table
    order = order_clauses(sortable, table, keys)
    if session.get_bind().dialect.name == "postgresql":
        stmt = _lateral_pages(table, source, partition, parent_ids, conditions, order, win)
    else:
        stmt = _ranked_pages(table, source, partition, parent_ids, conditions, order, win)
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in (await session.execute(stmt)).all():
        grouped[row._mapping[PARENT_KEY]].append(row)
    return {
        parent: make_page(grouped.get(parent, []), sortable, keys, win) for parent in parent_ids
    }


def _lateral_pages(
    table: sa.Table,
    source: Any,
    partition: Partition,
    parent_ids: Sequence[int],
    conditions: list[Condition],
    order: list[Any],
    win: Window,
) -> sa.Select[Any]:
    """PostgreSQL: per parent, an index probe that stops after the page (LATERAL ... LIMIT),
    however many children the parent has."""
    parents = (
        sa.func.unnest(sa.literal(list(parent_ids), ARRAY(sa.Integer)))
        .table_valued("parent_id")
        .render_derived(name="parents")
    )
    page = (
        sa.select(table, sa.func.row_number().over(order_by=order).label(RANK))
        .select_from(source)
        .where(partition.key == parents.c.parent_id, *conditions)
        .order_by(*order)
        .limit(win.size + 1)
        .lateral("page")
    )
    return (
        sa.select(page, parents.c.parent_id.label(PARENT_KEY))
        .select_from(parents.join(page, sa.true()))
        .order_by(parents.c.parent_id, page.c[RANK])
    )


def _ranked_pages(
    table: sa.Table,
    source: Any,
    partition: Partition,
    parent_ids: Sequence[int],
    conditions: list[Condition],
    order: list[Any],
    win: Window,
) -> sa.Select[Any]:
    """SQLite (no LATERAL): number the children of each parent and keep the first ones."""
    rank = sa.func.row_number().over(partition_by=partition.key, order_by=order)
    ranked = (
        sa.select(table, partition.key.label(PARENT_KEY), rank.label(RANK))
        .select_from(source)
        .where(partition.key.in_(list(parent_ids)), *conditions)
        .subquery("ranked")
    )
    return (
        sa.select(ranked)
        .where(ranked.c[RANK] <= win.size + 1)
        .order_by(ranked.c[PARENT_KEY], ranked.c[RANK])
    )


async def child_counts(
    session: AsyncSession,
    entity: Entity,
    team_id: int,
    partition: Partition,
    parent_ids: Sequence[int],
    where: Tree | None,
) -> Mapping[int, int]:
    stmt = (
        sa.select(partition.key, sa.func.count())
        .select_from(partition.join if partition.join is not None else entity.table)
        .where(
            scoped(entity, team_id, where),
            *_link_scope(partition, team_id),
            partition.key.in_(list(parent_ids)),
        )
        .group_by(partition.key)
    )
    counts = {int(parent): int(n) for parent, n in (await session.execute(stmt)).all()}
    return {parent: counts.get(parent, 0) for parent in parent_ids}


def _link_scope(partition: Partition, team_id: int) -> list[Condition]:
    return [] if partition.link is None else [partition.link.c.team_id == team_id]


async def by_ids(
    session: AsyncSession, table: sa.Table, team_id: int, ids: Sequence[int]
) -> dict[int, Any]:
    if not ids:
        return {}
    stmt = sa.select(table).where(table.c.team_id == team_id, table.c.id.in_(list(set(ids))))
    return {row.id: row for row in (await session.execute(stmt)).all()}


async def first(
    session: AsyncSession, entity: Entity, team_id: int, where: Tree | None
) -> Any | None:
    """The one row matching `where` (lookups by a unique key), or None."""
    stmt = sa.select(entity.table).where(scoped(entity, team_id, where)).limit(1)
    return (await session.execute(stmt)).first()


class ScopedReads:
    """The reads of one entity's rows within a team, for the service that owns the entity."""

    entity: Entity

    async def page(
        self,
        session: AsyncSession,
        team_id: int,
        where: Tree | None,
        keys: Sequence[SortKey],
        win: Window,
    ) -> Page:
        return await page(session, self.entity, team_id, where, keys, win)

    async def count(self, session: AsyncSession, team_id: int, where: Tree | None) -> int:
        return await count(session, self.entity, team_id, where)

    async def by_ids(
        self, session: AsyncSession, team_id: int, ids: Sequence[int]
    ) -> dict[int, Any]:
        return await by_ids(session, self.entity.table, team_id, ids)

    async def first(self, session: AsyncSession, team_id: int, where: Tree | None) -> Any | None:
        return await first(session, self.entity, team_id, where)
