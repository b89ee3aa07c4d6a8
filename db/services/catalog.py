"""What each entity offers to filters and orders: its table, fields and relationships."""

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.sql import FromClause

from db.models import AuditEntry, Project, Task, TaskAssignment, Worker
from db.models.enums import TaskPriority, TaskStatus, WorkerType
from db.services.filters import Condition, Filterable, register
from db.services.pagination import Sortable, SortField
from db.services.row_reads import Entity

TASK: sa.Table = Task.__table__  # type: ignore[attr-defined]
PROJECT: sa.Table = Project.__table__  # type: ignore[attr-defined]
WORKER: sa.Table = Worker.__table__  # type: ignore[attr-defined]
ASSIGNMENT: sa.Table = TaskAssignment.__table__  # type: ignore[attr-defined]
AUDIT: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]

_CMP, _STR, _ENUM = "comparable", "string", "enum"
_Where = Callable[[FromClause], Condition]


# Each relationship filter joins a fresh anonymous alias: a filter that passes through one
# table twice (`parent: {parent: ...}`) gets one alias per level, never a name that shadows
# the level above and correlates a subquery with itself.


def _task_project(outer: FromClause, team_id: int, where: _Where) -> Condition:
    project = PROJECT.alias()
    return sa.exists().where(
        project.c.id == outer.c.project_id, project.c.team_id == team_id, where(project)
    )


def _task_parent(outer: FromClause, team_id: int, where: _Where) -> Condition:
    parent = TASK.alias()
    return sa.exists().where(
        parent.c.id == outer.c.parent_id, parent.c.team_id == team_id, where(parent)
    )


def _task_assignees(outer: FromClause, team_id: int, where: _Where) -> Condition:
    link = ASSIGNMENT.alias()
    worker = WORKER.alias()
    return sa.exists(
        sa.select(sa.literal(1))
        .select_from(link.join(worker, worker.c.id == link.c.worker_id))
        .where(
            link.c.task_id == outer.c.id,
            link.c.team_id == team_id,
            worker.c.team_id == team_id,
            where(worker),
        )
    )


TASK_FILTER = register(
    "task",
    Filterable(
        table=TASK,
        fields={
            "id": _CMP,
            "title": _STR,
            "description": _STR,
            "status": _ENUM,
            "priority": _ENUM,
            "progress_percent": _CMP,
            "due_date": _CMP,
            "created_at": _CMP,
            "updated_at": _CMP,
            "project_id": _CMP,
            "parent_id": _CMP,
        },
        relations={
            "project": ("project", _task_project),
            "parent": ("task", _task_parent),
            "assignees": ("worker", _task_assignees),
        },
    ),
)
PROJECT_FILTER = register(
    "project",
    Filterable(
        table=PROJECT,
        fields={
            "id": _CMP,
            "name": _STR,
            "slug": _STR,
            "description": _STR,
            "created_at": _CMP,
            "updated_at": _CMP,
        },
    ),
)
WORKER_FILTER = register(
    "worker",
    Filterable(
        table=WORKER,
        fields={"id": _CMP, "handle": _STR, "name": _STR, "type": _ENUM, "created_at": _CMP},
    ),
)
AUDIT_FILTER = register(
    "audit",
    Filterable(
        table=AUDIT,
        fields={
            "action": _ENUM,
            "entity_type": _STR,
            "entity_id": _CMP,
            "actor_id": _CMP,
            "created_at": _CMP,
        },
    ),
)

TASK_SORT = Sortable(
    "Task",
    {
        "id": SortField("id", "int"),
        "title": SortField("title", "str"),
        "status": SortField("status", TaskStatus),
        "priority": SortField("priority", TaskPriority),
        "progress_percent": SortField("progress_percent", "int"),
        "due_date": SortField("due_date", "datetime", nullable=True),
        "created_at": SortField("created_at", "datetime"),
        "updated_at": SortField("updated_at", "datetime"),
    },
)
PROJECT_SORT = Sortable(
    "Project",
    {
        "id": SortField("id", "int"),
        "name": SortField("name", "str"),
        "slug": SortField("slug", "str"),
        "created_at": SortField("created_at", "datetime"),
        "updated_at": SortField("updated_at", "datetime"),
    },
)
WORKER_SORT = Sortable(
    "Worker",
    {
        "id": SortField("id", "int"),
        "handle": SortField("handle", "str"),
        "name": SortField("name", "str"),
        "type": SortField("type", WorkerType),
        "created_at": SortField("created_at", "datetime"),
    },
)
AUDIT_SORT = Sortable("AuditEntry", {"id": SortField("id", "int")})

# Filters and orders bound together: what a service reads its entity's rows with.
TASKS = Entity(TASK_FILTER, TASK_SORT)
PROJECTS = Entity(PROJECT_FILTER, PROJECT_SORT)
WORKERS = Entity(WORKER_FILTER, WORKER_SORT)
AUDIT_ENTRIES = Entity(AUDIT_FILTER, AUDIT_SORT)
