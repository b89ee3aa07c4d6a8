"""Filter and order inputs, and their conversion into the plain trees db/services compiles."""

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.types.unset import UNSET

from db.models.enums import AuditAction, TaskPriority, TaskStatus, WorkerType
from db.services.pagination import SortKey
from gql.ids import parse_id
from gql.types import enums as _registered_enums  # noqa: F401  (before any input uses them)

# -- operator inputs ---------------------------------------------------------------


ValueT = TypeVar("ValueT")
EnumT = TypeVar("EnumT")


@strawberry.input
class Comparison(Generic[ValueT]):
    eq: ValueT | None = UNSET
    ne: ValueT | None = UNSET
    gt: ValueT | None = UNSET
    gte: ValueT | None = UNSET
    lt: ValueT | None = UNSET
    lte: ValueT | None = UNSET
    in_: list[ValueT] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[ValueT] | None = UNSET
    between: list[ValueT] | None = strawberry.field(
        default=UNSET, description="Exactly [low, high], both included."
    )
    is_null: bool | None = UNSET


@strawberry.input
class Choice(Generic[EnumT]):
    eq: EnumT | None = UNSET
    ne: EnumT | None = UNSET
    in_: list[EnumT] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[EnumT] | None = UNSET


@strawberry.input(description="Compare an ID.")
class IDFilter(Comparison[strawberry.ID]):
    pass


@strawberry.input(description="Compare an Int.")
class IntFilter(Comparison[int]):
    pass


@strawberry.input(description="Compare a DateTime; one without an offset is taken as UTC.")
class DateTimeFilter(Comparison[datetime]):
    pass


@strawberry.input(
    description="Match a String. `contains` and `startsWith` ignore case and take `%` and `_` "
    "literally; `like` (case-sensitive) and `ilike` take SQL LIKE patterns."
)
class StringFilter:
    eq: str | None = UNSET
    ne: str | None = UNSET
    in_: list[str] | None = strawberry.field(name="in", default=UNSET)
    not_in: list[str] | None = UNSET
    like: str | None = UNSET
    ilike: str | None = UNSET
    contains: str | None = UNSET
    starts_with: str | None = UNSET
    is_null: bool | None = UNSET


@strawberry.input
class TaskStatusFilter(Choice[TaskStatus]):
    pass


@strawberry.input
class TaskPriorityFilter(Choice[TaskPriority]):
    pass


@strawberry.input
class WorkerTypeFilter(Choice[WorkerType]):
    pass


@strawberry.input
class AuditActionFilter(Choice[AuditAction]):
    pass


# -- where inputs -------------------------------------------------------------------


@strawberry.input(description="Filter projects; entries combine with AND.")
class ProjectWhere:
    and_: list["ProjectWhere"] | None = strawberry.field(name="and", default=UNSET)
    or_: list["ProjectWhere"] | None = strawberry.field(name="or", default=UNSET)
    not_: "ProjectWhere | None" = strawberry.field(name="not", default=UNSET)
    id: IDFilter | None = UNSET
    name: StringFilter | None = UNSET
    slug: StringFilter | None = UNSET
    description: StringFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET


@strawberry.input(description="Filter workers; entries combine with AND.")
class WorkerWhere:
    and_: list["WorkerWhere"] | None = strawberry.field(name="and", default=UNSET)
    or_: list["WorkerWhere"] | None = strawberry.field(name="or", default=UNSET)
    not_: "WorkerWhere | None" = strawberry.field(name="not", default=UNSET)
    id: IDFilter | None = UNSET
    handle: StringFilter | None = UNSET
    name: StringFilter | None = UNSET
    type: WorkerTypeFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


@strawberry.input(description="Filter tasks; entries combine with AND.")
class TaskWhere:
    and_: list["TaskWhere"] | None = strawberry.field(name="and", default=UNSET)
    or_: list["TaskWhere"] | None = strawberry.field(name="or", default=UNSET)
    not_: "TaskWhere | None" = strawberry.field(name="not", default=UNSET)
    id: IDFilter | None = UNSET
    title: StringFilter | None = UNSET
    description: StringFilter | None = UNSET
    status: TaskStatusFilter | None = UNSET
    priority: TaskPriorityFilter | None = UNSET
    progress_percent: IntFilter | None = UNSET
    due_date: DateTimeFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET
    updated_at: DateTimeFilter | None = UNSET
    project_id: IDFilter | None = UNSET
    parent_id: IDFilter | None = UNSET
    project: ProjectWhere | None = strawberry.field(
        default=UNSET, description="Tasks whose project matches."
    )
    parent: "TaskWhere | None" = strawberry.field(
        default=UNSET, description="Tasks whose parent matches."
    )
    assignees: WorkerWhere | None = strawberry.field(
        default=UNSET, description="Tasks with at least one matching assigned worker, any role."
    )


@strawberry.input(description="Filter the audit log; entries combine with AND.")
class AuditWhere:
    and_: list["AuditWhere"] | None = strawberry.field(name="and", default=UNSET)
    or_: list["AuditWhere"] | None = strawberry.field(name="or", default=UNSET)
    not_: "AuditWhere | None" = strawberry.field(name="not", default=UNSET)
    action: AuditActionFilter | None = UNSET
    entity_type: StringFilter | None = UNSET
    entity_id: IDFilter | None = UNSET
    actor_id: IDFilter | None = UNSET
    created_at: DateTimeFilter | None = UNSET


# -- ordering -------------------------------------------------------------------------


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class TaskOrderField(Enum):
    ID = "id"
    TITLE = "title"
    STATUS = "status"
    PRIORITY = "priority"
    PROGRESS_PERCENT = "progress_percent"
    DUE_DATE = "due_date"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.enum
class ProjectOrderField(Enum):
    ID = "id"
    NAME = "name"
    SLUG = "slug"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.enum
class WorkerOrderField(Enum):
    ID = "id"
    HANDLE = "handle"
    NAME = "name"
    TYPE = "type"
    CREATED_AT = "created_at"


@strawberry.input
class TaskOrderBy:
    field: TaskOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class ProjectOrderBy:
    field: ProjectOrderField
    direction: SortDirection = SortDirection.ASC


@strawberry.input
class WorkerOrderBy:
    field: WorkerOrderField
    direction: SortDirection = SortDirection.ASC


OrderByInput = TaskOrderBy | ProjectOrderBy | WorkerOrderBy


def sort_keys(order_by: Sequence[OrderByInput] | None) -> list[SortKey]:
    return [
        SortKey(item.field.value, item.direction is SortDirection.DESC) for item in order_by or []
    ]


# -- conversion -------------------------------------------------------------------------

_RENAMED = {"and_": "and", "or_": "or", "not_": "not", "in_": "in"}
# Where an IDFilter compares stored text rather than integer keys.
_TEXT_IDS = {"entity_id"}


def to_tree(where: object | None) -> dict[str, Any] | None:
    """A where input as a plain dict tree: UNSET dropped, IDs parsed, datetimes in UTC."""
    if where is None or where is UNSET:
        return None
    return _tree(where)


def _tree(node: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if value is UNSET:
            continue
        key = _RENAMED.get(f.name, f.name)
        if key in ("and", "or"):
            out[key] = [_tree(sub) for sub in value] if value is not None else None
        elif value is None:
            out[key] = None
        elif isinstance(value, IDFilter):
            out[key] = _operators(value, _text if f.name in _TEXT_IDS else _int_id(f.name))
        elif isinstance(value, DateTimeFilter):
            out[key] = _operators(value, _utc)
        elif _is_operator_input(value):
            out[key] = _operators(value, lambda v: v)
        else:
            out[key] = _tree(value)
    return out


def _is_operator_input(value: object) -> bool:
    return isinstance(value, Comparison | Choice | StringFilter)


def _operators(node: Any, convert: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if value is UNSET:
            continue
        op = "in" if f.name == "in_" else f.name
        if value is None or f.name == "is_null":
            out[op] = value
        elif isinstance(value, list):
            out[op] = [None if v is None else convert(v) for v in value]
        else:
            out[op] = convert(value)
    return out


def _int_id(field: str) -> Any:
    return lambda value: parse_id(value, field=field)


def _text(value: object) -> str:
    return str(value)


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; others are converted to it."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
