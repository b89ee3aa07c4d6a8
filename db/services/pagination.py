"""Ordering, opaque cursors and keyset (seek) pagination.

A page is found by comparing with the sort values of the cursor's row, never by
OFFSET: a page deep in a large table costs about what the first page costs, and
rows inserted meanwhile neither repeat nor vanish across pages.
"""

import base64
import binascii
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import ColumnElement, FromClause

from db.errors import Invalid

DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class SortField:
    column: str
    # How a cursor stores the value: "int", "str", "datetime", or an enum class.
    kind: str | type[enum.Enum]
    nullable: bool = False


@dataclass(frozen=True)
class Sortable:
    """The orders one entity offers; `name` keeps cursors from crossing connections."""

    name: str
    fields: Mapping[str, SortField]


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Window:
    """Validated pagination arguments."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        size = self.last if self.backward else self.first
        assert size is not None
        return size


def window(
    *, first: int | None, after: str | None, last: int | None, before: str | None, max_size: int
) -> Window:
    if first is not None and last is not None:
        raise Invalid("pass first or last, not both")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value < 0:
            raise Invalid(f"{name} must not be negative", field=name)
        if value is not None and value > max_size:
            raise Invalid(f"{name} must be at most {max_size}", field=name)
    if first is None and last is None:
        first = min(DEFAULT_PAGE_SIZE, max_size)
    return Window(first=first, after=after, last=last, before=before)


def normalize_keys(keys: Sequence[SortKey]) -> tuple[SortKey, ...]:
    """The requested keys with `id` last, in the direction of the last key."""
    out: list[SortKey] = []
    seen: set[str] = set()
    for key in keys:
        if key.field in seen:
            raise Invalid(f"orderBy names {key.field} twice", field="orderBy")
        seen.add(key.field)
        out.append(key)
        if key.field == "id":
            return tuple(out)
    return (*out, SortKey("id", out[-1].descending if out else False))


def order_clauses(
    sortable: Sortable, table: FromClause, keys: Sequence[SortKey], *, reverse: bool = False
) -> list[Any]:
    """ORDER BY terms; nulls sort last in the requested order, on both dialects."""
    clauses = []
    for key in keys:
        spec = sortable.fields[key.field]
        column = table.c[spec.column]
        term = column.desc() if key.descending != reverse else column.asc()
        if spec.nullable:
            term = term.nulls_first() if reverse else term.nulls_last()
        clauses.append(term)
    return clauses


def sort_values(sortable: Sortable, keys: Sequence[SortKey], row: Mapping[str, Any]) -> list[Any]:
    return [row[sortable.fields[key.field].column] for key in keys]


# -- cursors ---------------------------------------------------------------------


def _signature(keys: Sequence[SortKey]) -> str:
    return ",".join(f"{k.field}:{'desc' if k.descending else 'asc'}" for k in keys)


def encode_cursor(sortable: Sortable, keys: Sequence[SortKey], values: Sequence[Any]) -> str:
    payload = {
        "c": sortable.name,
        "o": _signature(keys),
        "v": [_dump(sortable.fields[k.field], v) for k, v in zip(keys, values, strict=True)],
    }
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sortable: Sortable, keys: Sequence[SortKey], cursor: str) -> list[Any]:
    bad = Invalid("the cursor is malformed or was not made by this connection", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(payload, dict) or payload.get("c") != sortable.name:
        raise bad
    if payload.get("o") != _signature(keys):
        raise Invalid("the cursor was made for another orderBy", field="cursor")
    values = payload.get("v")
    if not isinstance(values, list) or len(values) != len(keys):
        raise bad
    try:
        return [_load(sortable.fields[k.field], v) for k, v in zip(keys, values, strict=True)]
    except (TypeError, ValueError, KeyError):
        raise bad from None


def _dump(spec: SortField, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    return value


def _load(spec: SortField, value: Any) -> Any:
    if value is None:
        if not spec.nullable:
            raise ValueError("null for a non-null key")
        return None
    kind = spec.kind
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError
        return value
    if kind == "datetime":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive datetime")
        return parsed
    assert isinstance(kind, type) and issubclass(kind, enum.Enum)
    return kind[value]


# -- seeking -----------------------------------------------------------------------


def seek(
    sortable: Sortable,
    table: FromClause,
    keys: Sequence[SortKey],
    values: Sequence[Any],
    *,
    after: bool,
) -> ColumnElement[bool]:
    """Rows strictly after (or before) the position `values` in the order `keys`.

    When every key runs one way and none is nullable, a row-value comparison
    `(a, b, id) > (:a, :b, :id)` lets the index seek straight to the position, ties on
    the leading key included. Otherwise the lexicographic OR-chain is exact, and the
    extra bound on the leading key still lets an index skip what lies before it.
    """
    specs = [sortable.fields[key.field] for key in keys]
    columns = [table.c[spec.column] for spec in specs]
    directions = {key.descending for key in keys}
    if len(directions) == 1 and not any(spec.nullable for spec in specs):
        descending = directions.pop()
        position = sa.tuple_(
            *(sa.literal(value, column.type) for column, value in zip(columns, values, strict=True))
        )
        row = sa.tuple_(*columns)
        return row < position if descending == after else row > position

    chain: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for key, spec, column, value in zip(keys, specs, columns, values, strict=True):
        chain.append(sa.and_(*equal, _beyond(column, key.descending, spec.nullable, value, after)))
        equal.append(column.is_(None) if value is None else column == value)
    bound = _leading_bound(columns[0], keys[0].descending, specs[0].nullable, values[0], after)
    return sa.and_(bound, sa.or_(*chain))


def _beyond(column: Any, desc: bool, nullable: bool, value: Any, after: bool) -> Any:
    if after:
        if value is None:
            return sa.false()  # nulls come last: nothing is strictly after a null
        beyond = column < value if desc else column > value
        return sa.or_(beyond, column.is_(None)) if nullable else beyond
    if value is None:
        return column.is_not(None)  # every non-null value comes before the nulls
    return column > value if desc else column < value


def _leading_bound(column: Any, desc: bool, nullable: bool, value: Any, after: bool) -> Any:
    if value is None:
        return column.is_(None) if after else sa.true()
    if after:
        bound = column <= value if desc else column >= value
        return sa.or_(bound, column.is_(None)) if nullable else bound
    return column >= value if desc else column <= value


@dataclass
class Page:
    rows: list[Any]
    has_next: bool
    has_previous: bool
    sortable: Sortable
    keys: Sequence[SortKey]

    def cursor(self, index: int) -> str:
        """The cursor of a row, made only when a client asks for it."""
        row = self.rows[index]
        return encode_cursor(
            self.sortable, self.keys, sort_values(self.sortable, self.keys, row._mapping)
        )


def apply_window(
    stmt: sa.Select[Any],
    sortable: Sortable,
    table: FromClause,
    keys: Sequence[SortKey],
    win: Window,
) -> sa.Select[Any]:
    """Seek conditions, order and limit (one extra row tells whether more exist)."""
    if win.after is not None:
        stmt = stmt.where(
            seek(sortable, table, keys, decode_cursor(sortable, keys, win.after), after=True)
        )
    if win.before is not None:
        stmt = stmt.where(
            seek(sortable, table, keys, decode_cursor(sortable, keys, win.before), after=False)
        )
    return stmt.order_by(*order_clauses(sortable, table, keys, reverse=win.backward)).limit(
        win.size + 1
    )


def make_page(
    rows: Sequence[Any], sortable: Sortable, keys: Sequence[SortKey], win: Window
) -> Page:
    """Trim the extra row and restore forward order."""
    more = len(rows) > win.size
    rows = list(rows[: win.size])
    if win.backward:
        rows.reverse()
        return Page(rows, win.before is not None, more, sortable, keys)
    return Page(rows, more, win.after is not None, sortable, keys)
