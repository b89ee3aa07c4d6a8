"""Every statement the planned path issues names the team of every tenant table it reads.

Installed for the whole suite (tests/conftest.py): each statement executed while a root
field is completed by the plan (gql.planned.PLANNING) is inspected as SQLAlchemy built it,
before it is compiled: every reference to a tenant table (the table itself or an alias of
it, in any FROM, JOIN, subquery, LATERAL or CTE) must have its own `team_id` compared
somewhere in the statement. A test that made the plan issue anything else fails.
"""

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import BinaryExpression, ColumnClause
from sqlalchemy.sql.selectable import Alias, FromClause, Join, Select, TableClause
from sqlmodel import SQLModel

import db.models  # noqa: F401  (every table in the metadata)
from gql.planned import PLANNING

# Every table with a team_id column: derived from the models, so a new one is covered.
TENANT_TABLES = frozenset(
    table.name for table in SQLModel.metadata.tables.values() if "team_id" in table.c
)


class TenancyInspector:
    def __init__(self) -> None:
        self.inspected = 0
        self.violations: list[str] = []

    def install(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "before_execute", self._before_execute)

    def remove(self, engine: AsyncEngine) -> None:
        event.remove(engine.sync_engine, "before_execute", self._before_execute)

    def _before_execute(self, _conn: Any, clause: Any, *_args: Any) -> None:
        if not PLANNING.get() or not isinstance(clause, sa.sql.ClauseElement):
            return
        self.inspected += 1
        unscoped = unscoped_tenant_tables(clause)
        if unscoped:
            self.violations.append(f"{sorted(unscoped)} without team_id in: {clause}")


def unscoped_tenant_tables(statement: sa.sql.ClauseElement) -> set[str]:
    """Names of the tenant table references in `statement` that no team_id predicate covers."""
    references: list[FromClause] = []
    scoped: set[int] = set()
    for element in visitors.iterate(statement):
        if isinstance(element, Select):
            for source in element.get_final_froms():
                references.extend(_flatten(source))
        elif isinstance(element, BinaryExpression):
            for side in (element.left, element.right):
                if isinstance(side, ColumnClause) and side.name == "team_id":
                    table = side.table
                    if table is not None:
                        scoped.add(id(_plain(table)))
    return {
        _table_name(ref)
        for ref in references
        if _table_name(ref) in TENANT_TABLES and id(_plain(ref)) not in scoped
    }


def _flatten(source: FromClause) -> list[FromClause]:
    if isinstance(source, Join):
        return [*_flatten(source.left), *_flatten(source.right)]
    return [source]


def _plain(source: Any) -> Any:
    return source._deannotate() if hasattr(source, "_deannotate") else source


def _table_name(source: FromClause) -> str:
    base: Any = _plain(source)
    while isinstance(base, Alias):
        base = base.element
    return str(base.name) if isinstance(base, TableClause) else ""
