"""Reads answered by the database as one JSON document: a whole selection, one statement.

The planned read path describes what a query selects as a tree of plain values (fields
and their output keys, relations with their filters, orders and windows); this module
compiles that tree into one PostgreSQL statement that builds the answer itself (compact
JSON text: objects and arrays concatenated from their members' JSON, a correlated subquery
per relation and a window-limited subquery per connection page), so no row is turned into
a Python object and no field is completed one by one. Text is built with `||` and
`string_agg` rather than `json_build_object` and `json_agg`: those look up every value's
output function on every row, and cost twice as much per object (50 tasks of 5 fields:
0.26 -> 0.21 ms a statement). It knows no GraphQL: only tables, columns and how each value is
written, which is exactly how the resolver path writes it (ids as text, enums by member
name, timestamps as Python's `isoformat()` in UTC, cursors byte for byte as
`db.services.pagination.encode_cursor` makes them).

Every table reference is made by `_scoped`, which adds that reference's team predicate:
no statement built here can read another team's rows. Anything it cannot build raises
`Unplannable` before any SQL runs; the caller then answers another way.
"""

import enum
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, FromClause

from db.models.enums import TaskStatus
from db.models.types import RankedEnum
from db.services import trees
from db.services.catalog import ASSIGNMENT, PROJECT, PROJECTS, TASK, TASKS, WORKER, WORKERS
from db.services.filters import Tree, compile_where
from db.services.pagination import SortKey, Window, decode_cursor, order_clauses, seek
from db.services.row_reads import Entity

# Keys of one object: more than any selection of this schema needs, and a bound on the size
# of the expression one object compiles to.
MAX_KEYS = 50
_RANK = "rank__"


class Unplannable(Exception):
    """The selection holds something this compiler does not build (the reason says what)."""


# -- the selection, as plain values ----------------------------------------------------


@dataclass(frozen=True)
class Scalar:
    """A column's value under `key`; `text` writes it as a string (GraphQL IDs)."""

    key: str
    column: str
    text: bool = False


@dataclass(frozen=True)
class Constant:
    """A value known before any SQL (`__typename`)."""

    key: str
    value: str


@dataclass(frozen=True)
class Related:
    """A relation of the row: one object (or null), a list, or a connection page."""

    key: str
    relation: str
    fields: "tuple[Field, ...]" = ()
    page: "PageSpec | None" = None
    parts: "tuple[Part, ...]" = ()  # what of the statistics (`stats`)
    arguments: tuple[tuple[str, Any], ...] = ()  # (name, value), for lists that take any


@dataclass(frozen=True)
class PageSpec:
    """A connection: validated window, filter tree and order, and which parts are asked for."""

    where: Tree | None
    keys: tuple[SortKey, ...]
    window: Window
    parts: "tuple[Part, ...]"


@dataclass(frozen=True)
class Part:
    """One key of a connection, edge or page info: `what` is nodes, edges, pageInfo,
    totalCount, cursor, node, hasNextPage, hasPreviousPage, startCursor, endCursor or
    typename; `fields` the object's selection (nodes and node) or the sub-parts."""

    key: str
    what: str
    fields: "tuple[Any, ...]" = ()
    value: str | None = None


Field = Scalar | Constant | Related


@dataclass(frozen=True)
class Root:
    """A root field: one row of `entity` matching `where` (or null), or a connection."""

    entity: str
    where: Tree | None = None
    fields: tuple[Field, ...] = ()
    page: PageSpec | None = None


# -- what the compiler knows of the data ---------------------------------------------------

_ENTITIES: dict[str, Entity] = {"task": TASKS, "project": PROJECTS, "worker": WORKERS}
_TABLES: dict[str, sa.Table] = {
    "task": TASK,
    "project": PROJECT,
    "worker": WORKER,
    "assignment": ASSIGNMENT,
}

# (outer alias, inner alias) -> the condition tying the inner rows to the outer row.
_Link = Callable[[FromClause, FromClause], ColumnElement[bool]]


@dataclass(frozen=True)
class _Relation:
    target: str
    kind: str  # "one", "many", "page", or a walk of the task tree: "ancestors", "descendants"
    link: _Link
    order: tuple[str, ...] = ()  # for lists: the columns they are ordered by
    # For pages through an association table (a worker's tasks): that table and how it
    # joins (association alias, outer alias, inner alias).
    through: sa.Table | None = None
    through_link: Callable[[FromClause, FromClause, FromClause], ColumnElement[bool]] | None = None
    # Arguments of the field that filter the association row's column of that name.
    link_filters: tuple[str, ...] = ()
    # For pages through an association table: its rows of the outer row (association alias,
    # outer alias). Where the page is not filtered they are counted alone, one per row of
    # the page's entity: the database holds each to a row of that entity in the same team.
    through_outer: Callable[[FromClause, FromClause], ColumnElement[bool]] | None = None


# The resolver path's relations, with the orders their loaders use (db/services/assignments.py,
# db/services/tasks.py); tests/test_planned_json.py holds the two together.
RELATIONS: dict[tuple[str, str], _Relation] = {
    ("task", "project"): _Relation("project", "one", lambda o, i: i.c.id == o.c.project_id),
    ("task", "parent"): _Relation("task", "one", lambda o, i: i.c.id == o.c.parent_id),
    ("task", "assignments"): _Relation(
        "assignment", "many", lambda o, i: i.c.task_id == o.c.id, ("assigned_at", "worker_id")
    ),
    ("task", "subtasks"): _Relation("task", "page", lambda o, i: i.c.parent_id == o.c.id),
    # The assigned workers in assignment order, each once per assignment in the role asked
    # for (Task.workers: assignments_by_task, then worker_by_id).
    ("task", "workers"): _Relation(
        "worker",
        "many",
        lambda o, i: sa.true(),
        ("assigned_at", "worker_id"),
        through=ASSIGNMENT,
        through_link=lambda a, o, i: sa.and_(a.c.task_id == o.c.id, a.c.worker_id == i.c.id),
        link_filters=("role",),
    ),
    ("task", "ancestors"): _Relation("task", "ancestors", lambda o, i: sa.true()),
    ("task", "descendants"): _Relation("task", "descendants", lambda o, i: sa.true()),
    ("project", "tasks"): _Relation("task", "page", lambda o, i: i.c.project_id == o.c.id),
    # Statistics over the project's tasks (db/services/stats.py): Related.fields are Parts.
    ("project", "stats"): _Relation("task", "stats", lambda o, i: i.c.project_id == o.c.id),
    ("worker", "assignments"): _Relation(
        "assignment", "many", lambda o, i: i.c.worker_id == o.c.id, ("assigned_at", "task_id")
    ),
    ("worker", "tasks"): _Relation(
        "task",
        "page",
        lambda o, i: sa.true(),
        through=ASSIGNMENT,
        through_link=lambda a, o, i: sa.and_(a.c.worker_id == o.c.id, a.c.task_id == i.c.id),
        # fk_task_assignment_task_id_team_id_task: an assignment is in its task's team.
        through_outer=lambda a, o: a.c.worker_id == o.c.id,
    ),
    ("assignment", "task"): _Relation("task", "one", lambda o, i: i.c.id == o.c.task_id),
    ("assignment", "worker"): _Relation("worker", "one", lambda o, i: i.c.id == o.c.worker_id),
}


def relation_kind(entity: str, name: str) -> str | None:
    """How the compiler builds a relation (`_Relation.kind`); None when it does not."""
    found = RELATIONS.get((entity, name))
    return None if found is None else found.kind


def has_column(entity: str, column: str) -> bool:
    return column in _TABLES[entity].c


# -- compiling ------------------------------------------------------------------------------


@dataclass
class _Compiler:
    team_id: int
    aliases: int = field(default=0)

    def scoped_link(self, table: sa.Table) -> tuple[FromClause, ColumnElement[bool]]:
        """`scoped` for an association table (assignments between tasks and workers)."""
        self.aliases += 1
        alias = table.alias(f"l{self.aliases}")
        return alias, alias.c.team_id == self.team_id

    def scoped(self, entity: str) -> tuple[FromClause, ColumnElement[bool]]:
        """A fresh alias of the entity's table and the predicate naming its team: the only
        way a table enters a statement here."""
        self.aliases += 1
        alias = _TABLES[entity].alias(f"{entity[0]}{self.aliases}")
        return alias, alias.c.team_id == self.team_id

    # objects ---------------------------------------------------------------------------

    def obj(self, entity: str, row: FromClause, fields: Sequence[Field]) -> ColumnElement[Any]:
        if len(fields) > MAX_KEYS:
            raise Unplannable(f"more than {MAX_KEYS} fields in one object")
        return _object([(_key(item.key), self.value(entity, row, item)) for item in fields])

    def value(self, entity: str, row: FromClause, item: Field) -> ColumnElement[Any]:
        """The JSON text of one field of the row."""
        if isinstance(item, Constant):
            return _string_literal(item.value)
        if isinstance(item, Scalar):
            column = row.c[item.column]
            if item.text:
                return _plain_string(sa.cast(column, sa.Text))
            return _render(_TABLES[entity].c[item.column], column)
        relation = RELATIONS[(entity, item.relation)]
        if relation.kind == "one":
            inner, team = self.scoped(relation.target)
            select = sa.select(self.obj(relation.target, inner, item.fields)).where(
                team, relation.link(row, inner)
            )
            return _or_null(select.scalar_subquery())
        if relation.kind == "many":
            inner, team = self.scoped(relation.target)
            conditions = [team, relation.link(row, inner)]
            ordered_by = inner
            if relation.through is not None:
                assert relation.through_link is not None
                link, link_team = self.scoped_link(relation.through)
                conditions += [link_team, relation.through_link(link, row, inner)]
                ordered_by = link
            for name, value in item.arguments:
                if name not in relation.link_filters:
                    raise Unplannable(f"{item.relation}({name})")
                conditions.append(ordered_by.c[name] == value)
            order = [ordered_by.c[name] for name in relation.order]
            members = _array(self.obj(relation.target, inner, item.fields), order)
            return sa.select(members).where(*conditions).scalar_subquery()
        if relation.kind in ("ancestors", "descendants"):
            return self.walk(relation.kind, row, item)
        if relation.kind == "stats":
            return self.stats(relation, row, item)
        assert item.page is not None
        return self.page(relation.target, item.page, (relation, row)).scalar_subquery()

    def stats(self, relation: _Relation, row: FromClause, item: Related) -> ColumnElement[Any]:
        """`db.services.stats` in SQL: the count per status (every status, zeros included,
        in workflow order), the total, and the mean progress as the same double Python's
        division gives (an integral mean as `50.0`, so that it parses as a float)."""
        tasks, team = self.scoped("task")
        counted = (
            sa.select(
                tasks.c.status.label("rank"),
                sa.func.count().label("n"),
                sa.func.sum(tasks.c.progress_percent).label("progress"),
            )
            .where(team, relation.link(row, tasks))
            .group_by(tasks.c.status)
            .correlate(row)
            .subquery(f"counted{self.aliases}")
        )
        total = sa.func.coalesce(sa.func.sum(counted.c.n), 0)
        progress = sa.func.coalesce(sa.func.sum(counted.c.progress), 0)
        whole = sa.cast(progress / sa.func.nullif(total, 0), sa.Numeric(20, 1))
        share = sa.cast(progress, sa.Float) / sa.cast(sa.func.nullif(total, 0), sa.Float)
        average = sa.case(
            (total == 0, _literal("null")),
            (progress % sa.func.nullif(total, 0) == 0, _json_text(sa.func.to_json(whole))),
            else_=_json_text(sa.func.to_json(share)),
        )
        stats = _json_object(
            item.parts,
            "TaskStats",
            {
                "total": lambda _: _number(total),
                "averageProgress": lambda _: average,
                "byStatus": lambda part: self.by_status(counted, part),
            },
        )
        return sa.select(stats).select_from(counted).scalar_subquery()

    def by_status(self, counted: FromClause, part: Part) -> ColumnElement[Any]:
        """Every status in workflow order with its count (zeros included), from the same
        pass over the grouped counts as the total: a second reading of the counts, once per
        status, was planned as an index scan over the whole team's tasks of that status
        (120 of 180 ms for 20 projects' stats on the benchmark's data)."""
        stored_rank = sa.type_coerce(counted.c.rank, sa.SmallInteger)
        members = []
        for rank, member in enumerate(TaskStatus):
            count = sa.func.coalesce(
                sa.func.max(counted.c.n).filter(stored_rank == _int(rank)), _int(0)
            )
            members.append(
                _json_object(
                    part.fields,
                    "StatusCount",
                    {
                        "status": _constant(_string_literal(member.name)),
                        "count": _constant(_number(count)),
                    },
                )
            )
        return _listed(members)

    def walk(self, direction: str, row: FromClause, item: Related) -> ColumnElement[Any]:
        """A task's ancestors (root first) or descendants (breadth-first, by id within a
        level): the recursive walks of db/services/trees.py, from the outer row."""
        arguments = dict(item.arguments)
        if set(arguments) - {"max_depth"} or (direction == "ancestors" and arguments):
            raise Unplannable(f"{item.relation} with {sorted(arguments)}")
        limit = trees.MAX_DEPTH
        if "max_depth" in arguments:
            max_depth = int(arguments["max_depth"])
            if max_depth < 0:
                raise Unplannable("a negative maxDepth is the resolver's error to report")
            limit = min(max_depth, trees.MAX_DEPTH)
        if limit < 1:
            return _EMPTY
        self.aliases += 1
        name = f"walk{self.aliases}"
        step, step_team = self.scoped("task")
        if direction == "ancestors":
            anchor = (
                sa.select(row.c.parent_id.label("task_id"), sa.literal(1).label("depth"))
                .where(row.c.parent_id.is_not(None))
                .correlate(row)
            )
            walk = anchor.cte(name, recursive=True, nesting=True)
            walk = walk.union_all(
                sa.select(step.c.parent_id, walk.c.depth + 1).where(
                    step.c.id == walk.c.task_id,
                    step_team,
                    step.c.parent_id.is_not(None),
                    walk.c.depth < _int(limit),
                )
            )
        else:
            first, first_team = self.scoped("task")
            anchor = (
                sa.select(first.c.id.label("task_id"), sa.literal(1).label("depth"))
                .where(first.c.parent_id == row.c.id, first_team)
                .correlate(row)
            )
            walk = anchor.cte(name, recursive=True, nesting=True)
            walk = walk.union_all(
                sa.select(step.c.id, walk.c.depth + 1).where(
                    step.c.parent_id == walk.c.task_id, step_team, walk.c.depth < _int(limit)
                )
            )
        found, found_team = self.scoped("task")
        order = (walk.c.depth.desc(),) if direction == "ancestors" else (walk.c.depth, found.c.id)
        members = _array(self.obj("task", found, item.fields), order)
        select = (
            sa.select(members)
            .select_from(found.join(walk, found.c.id == walk.c.task_id))
            .where(found_team)
        )
        return select.scalar_subquery()

    # connections -------------------------------------------------------------------------

    def page(
        self,
        entity: str,
        spec: PageSpec,
        parent: tuple[_Relation, FromClause] | None,
    ) -> sa.Select[Any]:
        """One row: the connection's JSON, from a subquery holding the page's rows (and one
        more, which tells whether there are more) numbered in the order asked for."""
        if entity not in _ENTITIES:
            raise Unplannable(f"no connection over {entity}")
        sortable = _ENTITIES[entity].sortable
        win = spec.window
        if parent is not None and (win.last is not None or win.before is not None):
            raise Unplannable("nested connections page forward only")
        inner, conditions = self.filtered(entity, spec.where, parent)
        if win.after is not None:
            values = decode_cursor(sortable, spec.keys, win.after)
            conditions.append(seek(sortable, inner, spec.keys, values, after=True))
        if win.before is not None:
            values = decode_cursor(sortable, spec.keys, win.before)
            conditions.append(seek(sortable, inner, spec.keys, values, after=False))
        order = order_clauses(sortable, inner, spec.keys, reverse=win.backward)
        numbered = (
            sa.select(*inner.c, sa.func.row_number().over(order_by=order).label(_RANK))
            .where(*conditions)
            .order_by(*order)
            .limit(_int(win.size + 1))
        )
        if parent is not None:
            # The page hangs off a row two query levels up: name it, as SQLAlchemy only
            # correlates the enclosing level by itself.
            numbered = numbered.correlate(parent[1])
        rows = numbered.subquery(f"page{self.aliases}")
        size = _int(win.size)
        on_page = rows.c[_RANK] <= size
        # The page in forward order: a backward page was read from its end.
        forward = rows.c[_RANK].desc() if win.backward else rows.c[_RANK]
        more = sa.func.count() > size
        connection = _json_object(
            spec.parts,
            "connection",
            {
                "nodes": lambda part: self.agg(
                    self.obj(entity, rows, part.fields), forward, on_page
                ),
                "edges": lambda part: self.agg(
                    self.edge(entity, rows, spec, part), forward, on_page
                ),
                "totalCount": lambda _: _number(self.count(entity, spec.where, parent)),
                "pageInfo": lambda part: self.page_info(entity, rows, spec, part, more, on_page),
            },
        )
        # One row even when no part aggregates the page (`{ totalCount }` alone).
        return sa.select(connection).select_from(rows).group_by(sa.text("()"))

    def filtered(
        self, entity: str, where: Tree | None, parent: tuple[_Relation, FromClause] | None
    ) -> tuple[FromClause, list[ColumnElement[bool]]]:
        inner, team = self.scoped(entity)
        conditions = [team, compile_where(_ENTITIES[entity].filterable, inner, where, self.team_id)]
        if parent is not None:
            relation, outer = parent
            if relation.through is not None:
                assert relation.through_link is not None
                link, link_team = self.scoped_link(relation.through)
                exists = (
                    sa.exists()
                    .where(link_team, relation.through_link(link, outer, inner))
                    .correlate(inner, outer)
                )
                conditions.append(exists)
            else:
                conditions.append(relation.link(outer, inner))
        return inner, conditions

    def count(
        self, entity: str, where: Tree | None, parent: tuple[_Relation, FromClause] | None
    ) -> ColumnElement[Any]:
        if parent is not None and parent[0].through_outer is not None and not where:
            # A worker's tasks counted from the index of its assignments alone, instead of
            # reading each task to find it in the team (20 workers: ~60 -> ~4 ms).
            relation, outer = parent
            assert relation.through is not None and relation.through_outer is not None
            link, link_team = self.scoped_link(relation.through)
            select = (
                sa.select(sa.func.count())
                .select_from(link)
                .where(link_team, relation.through_outer(link, outer))
                .correlate(outer)
            )
            return select.scalar_subquery()
        inner, conditions = self.filtered(entity, where, parent)
        select = sa.select(sa.func.count()).select_from(inner).where(*conditions)
        if parent is not None:
            select = select.correlate(parent[1])
        return select.scalar_subquery()

    @staticmethod
    def agg(
        member: ColumnElement[Any], order: Any, on_page: ColumnElement[bool]
    ) -> ColumnElement[Any]:
        return _array(member, [order], on_page)

    def edge(self, entity: str, rows: FromClause, spec: PageSpec, part: Part) -> ColumnElement[Any]:
        return _json_object(
            part.fields,
            "edge",
            {
                "cursor": lambda _: _plain_string(self.cursor(entity, rows, spec)),
                "node": lambda sub: self.obj(entity, rows, sub.fields),
            },
        )

    def page_info(
        self,
        entity: str,
        rows: FromClause,
        spec: PageSpec,
        part: Part,
        more: ColumnElement[bool],
        on_page: ColumnElement[bool],
    ) -> ColumnElement[Any]:
        win = spec.window

        def end_cursor(first: bool) -> ColumnElement[Any]:
            """The cursor of the first (last) row of the page in forward order."""
            rank = rows.c[_RANK] if first != win.backward else rows.c[_RANK].desc()
            cursors = sa.func.array_agg(
                aggregate_order_by(self.cursor(entity, rows, spec), rank)
            ).filter(on_page)
            return _plain_string(sa.type_coerce(cursors, _TEXT_ARRAY)[1])

        return _json_object(
            part.fields,
            "pageInfo",
            {
                "hasNextPage": lambda _: (
                    _boolean_literal(win.before is not None) if win.backward else _boolean(more)
                ),
                "hasPreviousPage": lambda _: (
                    _boolean(more) if win.backward else _boolean_literal(win.after is not None)
                ),
                "startCursor": lambda _: end_cursor(first=True),
                "endCursor": lambda _: end_cursor(first=False),
            },
        )

    def cursor(self, entity: str, rows: FromClause, spec: PageSpec) -> ColumnElement[Any]:
        """`encode_cursor` in SQL: base64url (unpadded) of the same compact JSON."""
        sortable = _ENTITIES[entity].sortable
        signature = ",".join(f"{k.field}:{'desc' if k.descending else 'asc'}" for k in spec.keys)
        pieces: list[Any] = [_literal(f'{{"c":"{sortable.name}","o":"{signature}","v":[')]
        for index, key in enumerate(spec.keys):
            sort_field = sortable.fields[key.field]
            if index:
                pieces.append(_literal(","))
            pieces.append(
                _cursor_value(
                    _TABLES[entity].c[sort_field.column], rows.c[sort_field.column], sort_field.kind
                )
            )
        pieces.append(_literal("]}"))
        payload = sa.func.concat(*pieces)
        encoded = sa.func.encode(sa.func.convert_to(payload, _literal("UTF8")), _literal("base64"))
        return sa.func.rtrim(
            sa.func.translate(encoded, sa.literal_column("E'+/\\n'"), _literal("-_")),
            _literal("="),
        )


_TEXT_ARRAY = sa.ARRAY(sa.Text)


def _literal(text: str) -> ColumnElement[Any]:
    """A string written into the SQL itself: keys and names are the schema's (GraphQL
    names and aliases match [_A-Za-z][_0-9A-Za-z]*), never a client's free text."""
    return sa.literal_column("'" + text.replace("'", "''") + "'")


def _int(value: int) -> ColumnElement[Any]:
    """A page size or depth written into the SQL (validated integers, never a client's
    text). Sent as parameters, they kept PostgreSQL from ever settling on a generic plan
    for a prepared statement (a LIMIT it cannot see is priced as a tenth of the table), so
    every execution was planned again: 20-30% of the statement's time."""
    return sa.literal_column(str(int(value)), sa.Integer)


def _constant(value: ColumnElement[Any]) -> Callable[[Part], ColumnElement[Any]]:
    """A renderer (for `_json_object`) of a value that does not depend on the part."""
    return lambda _part: value


# -- JSON text ------------------------------------------------------------------------
# Every value below is the JSON text of a value (never NULL: a missing value is `null`),
# and objects and arrays are built from such texts.


def _concat(pieces: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = joined.op("||", return_type=sa.Text)(piece)
    return joined


def _listed(items: Sequence[ColumnElement[Any]]) -> ColumnElement[Any]:
    """`[item,...]` from a known number of JSON texts."""
    pieces: list[ColumnElement[Any]] = [_literal("[")]
    for index, item in enumerate(items):
        if index:
            pieces.append(_literal(","))
        pieces.append(item)
    pieces.append(_literal("]"))
    return _concat(pieces)


def _object(members: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    """`{"key":value,...}` from (key, JSON text) pairs; keys are checked names (`_key`)."""
    if not members:
        return _literal("{}")
    pieces: list[ColumnElement[Any]] = []
    for index, (key, value) in enumerate(members):
        pieces.append(_literal(("{" if index == 0 else ",") + f'"{key}":'))
        pieces.append(value)
    pieces.append(_literal("}"))
    return _concat(pieces)


def _array(
    member: ColumnElement[Any],
    order: Sequence[Any],
    only: ColumnElement[bool] | None = None,
) -> ColumnElement[Any]:
    """`[member,...]` over the rows aggregated, in `order`; `[]` when there are none."""
    ordered = sa.func.string_agg(member, aggregate_order_by(_literal(","), *order))
    aggregated: ColumnElement[Any] = ordered if only is None else ordered.filter(only)
    listed = _concat([_literal("["), aggregated, _literal("]")])
    return sa.func.coalesce(listed, _EMPTY, type_=sa.Text)


def _or_null(json_text: ColumnElement[Any]) -> ColumnElement[Any]:
    return sa.func.coalesce(json_text, _literal("null"), type_=sa.Text)


def _json_text(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A json value's text."""
    return _or_null(sa.cast(value, sa.Text))


def _string(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """Free text as a JSON string: PostgreSQL escapes it."""
    return _json_text(sa.func.to_json(text))


def _plain_string(text: ColumnElement[Any]) -> ColumnElement[Any]:
    """Text that needs no escaping as a JSON string: digits, enum member names, ISO
    timestamps, base64url cursors."""
    return _or_null(_concat([_literal('"'), text, _literal('"')]))


def _string_literal(value: str) -> ColumnElement[Any]:
    """A string known before any SQL (a GraphQL name), as JSON."""
    return _literal(json.dumps(value))


def _number(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return _or_null(sa.cast(value, sa.Text))


def _boolean(value: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.case((value, _literal("true")), else_=_literal("false"))


def _boolean_literal(value: bool) -> ColumnElement[Any]:
    return _literal("true" if value else "false")


_EMPTY: ColumnElement[Any] = sa.literal_column("'[]'", sa.Text)


def _json_object(
    parts: Sequence[Any],
    owner: str,
    render: Mapping[str, Callable[[Part], ColumnElement[Any]]],
) -> ColumnElement[Any]:
    """The object of the parts asked for (a connection, edge, page info, statistics):
    `__typename` as its name, every other part by its renderer, built only when asked;
    a part no renderer knows is not planned."""
    if len(parts) > MAX_KEYS:
        raise Unplannable(f"more than {MAX_KEYS} keys in one {owner}")
    members: list[tuple[str, ColumnElement[Any]]] = []
    for part in parts:
        assert isinstance(part, Part)
        if part.what == "typename":
            assert part.value is not None
            members.append((_key(part.key), _string_literal(part.value)))
        elif part.what in render:
            members.append((_key(part.key), render[part.what](part)))
        else:
            raise Unplannable(f"{owner}.{part.what}")
    return _object(members)


def _key(name: str) -> str:
    if not name.replace("_", "a").isalnum() or not name.isascii():
        raise Unplannable(f"key {name!r}")
    return name


def _iso(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamptz as Python's `isoformat()` of the UTC datetime: microseconds only when
    there are any. One to_char: ".000000" can only be the fraction, and `||` keeps a
    missing timestamp NULL."""
    utc = sa.func.timezone(_literal("UTC"), column)
    text = sa.func.to_char(utc, _literal('YYYY-MM-DD"T"HH24:MI:SS.US'))
    whole = sa.func.replace(text, _literal(".000000"), _literal(""))
    return whole.op("||")(_literal("+00:00"))


def _render(declared: sa.Column[Any], column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A column's value as the resolver path writes it, as JSON text."""
    kind = declared.type
    if isinstance(kind, sa.types.TypeDecorator) and not isinstance(kind, RankedEnum):
        kind = kind.impl_instance  # SQLModel's AutoString and the like: their storage type
    if isinstance(kind, RankedEnum):
        return _plain_string(_member_name(kind, column))
    if isinstance(kind, sa.DateTime):
        if not kind.timezone:
            raise Unplannable(f"{declared.name}: a timestamp without time zone")
        return _plain_string(_iso(column))
    if isinstance(kind, sa.Integer):
        return _number(column)
    if isinstance(kind, sa.Enum | sa.String):
        return _string(column)  # str enums store the member's name, the GraphQL value
    raise Unplannable(f"{declared.name}: {kind!r}")


def _member_name(kind: RankedEnum, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A ranked enum's member name, from its stored rank (compared as the stored SMALLINT,
    not through the enum type's bind processing)."""
    stored = sa.type_coerce(column, sa.SmallInteger)
    return sa.case(
        *(
            (stored == sa.literal_column(str(rank)), _literal(member.name))
            for rank, member in enumerate(kind.enum_cls)
        )
    )


def _cursor_value(
    declared: sa.Column[Any], column: ColumnElement[Any], kind: str | type[enum.Enum]
) -> ColumnElement[Any]:
    """One sort value as json.dumps writes it into a cursor."""
    if kind == "int":
        return sa.cast(column, sa.Text)
    if kind == "datetime":
        text = sa.func.concat(_literal('"'), _iso(column), _literal('"'))
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        storage = declared.type
        # A ranked enum stores its rank; the others store the member's name.
        name = _member_name(storage, column) if isinstance(storage, RankedEnum) else column
        text = sa.func.concat(_literal('"'), name, _literal('"'))
    else:
        # json.dumps escapes every non-ASCII character and PostgreSQL would not: free text
        # in a cursor is made by the resolver path.
        raise Unplannable(f"a cursor over {declared.name}")
    if not declared.nullable:
        return text
    return sa.case((column.is_(None), _literal("null")), else_=text)


# -- running ----------------------------------------------------------------------------------


def statement(root: Root, team_id: int) -> sa.Select[Any]:
    """The one statement answering `root`: one row, one column, the JSON text (NULL when a
    single object is not found)."""
    compiler = _Compiler(team_id)
    if root.page is not None:
        select = compiler.page(root.entity, root.page, None)
        return sa.select(sa.cast(select.scalar_subquery(), sa.Text))
    if root.entity not in _ENTITIES:
        raise Unplannable(f"no lookup of {root.entity}")
    row, conditions = compiler.filtered(root.entity, root.where, None)
    obj = compiler.obj(root.entity, row, root.fields)
    return sa.select(sa.cast(obj, sa.Text)).where(*conditions).limit(_int(1))


@dataclass(frozen=True)
class Prepared:
    """A statement ready to send: its SQL and bound values, or (the first time a plan is
    seen) the statement itself, so that it runs as SQLAlchemy built it."""

    sql: str
    values: tuple[Any, ...]
    statement: sa.Select[Any] | None = None


class _Prepared:
    """Compiled statements by plan and team, most recently used kept. Building and
    compiling a statement of this size costs milliseconds of CPU; a client's repeated
    read (same document, same variables) costs a dictionary lookup."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, int], Prepared] = OrderedDict()

    def get(self, root: Root, team_id: int, dialect: Dialect) -> Prepared:
        key = (repr(root), team_id)
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return found
        stmt = statement(root, team_id)  # raises before anything is kept
        compiled = stmt.compile(dialect=dialect)
        # IN lists expanded into one parameter each, and the values as the driver takes
        # them: what each parameter's type makes of it (a status name becomes its rank).
        # As SQLAlchemy's own execution context merges them (engine/default.py).
        state = compiled.construct_expanded_state(compiled.construct_params())
        processors: dict[str, Any] = {**compiled._bind_processors, **state.processors}
        params = state.parameters
        values = tuple(
            processors[name](params[name]) if name in processors else params[name]
            for name in state.positiontup or ()
        )
        self._entries[key] = Prepared(state.statement, values)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return Prepared(state.statement, values, stmt)


PREPARED = _Prepared(512)


async def answer(session: AsyncSession, prepared: Prepared) -> str | None:
    if prepared.statement is not None:
        return (await session.execute(prepared.statement)).scalar()
    connection = await session.connection()
    return (await connection.exec_driver_sql(prepared.sql, prepared.values)).scalar()
