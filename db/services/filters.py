"""Compiles plain filter trees into SQLAlchemy conditions that behave alike on both dialects.

A tree is a dict: `and` / `or` (lists of trees), `not` (a tree), one operator dict per
field (`{"title": {"contains": "x"}}`) and one subtree per relationship
(`{"project": {...}}`). Several entries in one dict combine with AND.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from db.errors import Invalid

Tree = Mapping[str, Any]
Condition = ColumnElement[bool]

COMPARISONS = {"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between", "is_null"}
STRING_OPS = {"eq", "ne", "in", "not_in", "like", "ilike", "contains", "starts_with", "is_null"}
ENUM_OPS = {"eq", "ne", "in", "not_in"}
_OPS_BY_KIND = {"comparable": COMPARISONS, "string": STRING_OPS, "enum": ENUM_OPS}
_LIKE_ESCAPE = "\\"
# Drivers cap the parameters of a statement; a filter has no business near that.
MAX_LIST_VALUES = 1_000
# A filter compiles to one expression per condition: SQLite refuses expressions
# deeper than 1000 and SQLAlchemy compiles them recursively, so both the nesting
# (and / or / not / relationships) and the number of conditions are bounded.
MAX_FILTER_DEPTH = 8
MAX_FILTER_TERMS = 500

# (outer table, team id, condition on the related table's alias) -> condition on outer
RelationBuilder = Callable[[FromClause, int, Callable[[FromClause], Condition]], Condition]


@dataclass(frozen=True)
class Filterable:
    """What may be filtered on one entity: its fields by kind and its relationships."""

    table: sa.Table
    fields: Mapping[str, str]  # name -> "comparable" | "string" | "enum"
    relations: Mapping[str, tuple[str, RelationBuilder]] = field(default_factory=dict)


_REGISTRY: dict[str, Filterable] = {}


def register(name: str, filterable: Filterable) -> Filterable:
    _REGISTRY[name] = filterable
    return filterable


def compile_where(
    entity: Filterable, table: FromClause, tree: Tree | None, team_id: int
) -> Condition:
    """The condition for `tree` on `table` (the entity's table or an alias of it)."""
    return _compile(entity, table, tree, team_id, _Budget(), 1)


class _Budget:
    """The conditions a tree has used so far (each subtree and each operator), shared
    by all of its branches; and the bound on how deep they nest."""

    def __init__(self) -> None:
        self.terms = 0

    def spend(self, terms: int, depth: int) -> None:
        self.terms += terms
        if self.terms > MAX_FILTER_TERMS:
            raise Invalid(
                f"a filter may hold at most {MAX_FILTER_TERMS} conditions (operators and branches)"
            )
        if depth > MAX_FILTER_DEPTH:
            raise Invalid(f"a filter may nest at most {MAX_FILTER_DEPTH} levels deep")


def _compile(
    entity: Filterable,
    table: FromClause,
    tree: Tree | None,
    team_id: int,
    budget: _Budget,
    depth: int,
) -> Condition:
    if not tree:
        return sa.true()
    budget.spend(1, depth)
    parts: list[Condition] = []

    def sub(tree: Tree, on: FromClause = table, of: Filterable = entity) -> Condition:
        return _compile(of, on, tree, team_id, budget, depth + 1)

    for key, value in tree.items():
        if value is None:
            continue
        if key == "and":
            parts.extend(sub(branch) for branch in value)
        elif key == "or":
            parts.append(sa.or_(*(sub(branch) for branch in value)) if value else sa.false())
        elif key == "not":
            # NOT of an unknown (NULL) comparison is still unknown; a row the inner
            # filter does not match must match its negation.
            parts.append(sa.not_(sa.func.coalesce(sub(value), sa.false())))
        elif key in entity.fields:
            budget.spend(len(value), depth)
            parts.extend(_field(table.c[key], entity.fields[key], key, value))
        elif key in entity.relations:
            target_name, build = entity.relations[key]
            target = _REGISTRY[target_name]

            def on(inner: FromClause, of: Filterable = target, tree: Tree = value) -> Condition:
                return sub(tree, inner, of)

            parts.append(build(table, team_id, on))
        else:
            raise Invalid(f"unknown filter field {key!r}", field=key)
    return sa.and_(sa.true(), *parts) if parts else sa.true()


def _field(column: Any, kind: str, name: str, ops: Mapping[str, Any]) -> list[Condition]:
    allowed = _OPS_BY_KIND[kind]
    out: list[Condition] = []
    for op, value in ops.items():
        if op not in allowed:
            raise Invalid(f"{name}: operator {op!r} is not supported here", field=name)
        if value is None:
            raise Invalid(
                f"{name}.{_camel(op)}: null is not a value to compare with; use isNull",
                field=name,
            )
        if isinstance(value, list) and len(value) > MAX_LIST_VALUES:
            raise Invalid(f"{name}.{_camel(op)}: at most {MAX_LIST_VALUES} values", field=name)
        out.append(_operator(column, name, op, value))
    return out


def _operator(column: Any, name: str, op: str, value: Any) -> Condition:
    match op:
        case "eq":
            return column == value
        case "ne":
            return column != value
        case "gt":
            return column > value
        case "gte":
            return column >= value
        case "lt":
            return column < value
        case "lte":
            return column <= value
        case "in":
            return column.in_(list(value)) if value else sa.false()
        case "not_in":
            # A NULL matches no comparison, notIn included.
            return column.not_in(list(value)) if value else column.is_not(None)
        case "between":
            low, high = _pair(name, value)
            return column.between(low, high)
        case "is_null":
            return column.is_(None) if value else column.is_not(None)
        case "like":
            return column.like(value)
        case "ilike":
            return sa.func.lower(column).like(sa.func.lower(value))
        case "contains":
            return sa.func.lower(column).like(f"%{_escape(value.lower())}%", escape=_LIKE_ESCAPE)
        case "starts_with":
            return sa.func.lower(column).like(f"{_escape(value.lower())}%", escape=_LIKE_ESCAPE)
    raise Invalid(f"{name}: unknown operator {op!r}", field=name)  # pragma: no cover


def _pair(name: str, value: Sequence[Any]) -> tuple[Any, Any]:
    if len(value) != 2:
        raise Invalid(f"{name}.between takes exactly two values [low, high]", field=name)
    if any(v is None for v in value):
        raise Invalid(f"{name}.between takes two non-null values", field=name)
    return value[0], value[1]


def _escape(text: str) -> str:
    """`%` and `_` match themselves in contains/startsWith."""
    return (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)
