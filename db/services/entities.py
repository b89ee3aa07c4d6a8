"""The entities of the read API: filters and orders bound together."""

from db.services.catalog import (
    ASSIGNMENT,
    AUDIT_FILTER,
    AUDIT_SORT,
    PROJECT_FILTER,
    PROJECT_SORT,
    TASK,
    TASK_FILTER,
    TASK_SORT,
    WORKER_FILTER,
    WORKER_SORT,
)
from db.services.queries import Entity, Partition

TASKS = Entity(TASK_FILTER, TASK_SORT)
PROJECTS = Entity(PROJECT_FILTER, PROJECT_SORT)
WORKERS = Entity(WORKER_FILTER, WORKER_SORT)
AUDIT_ENTRIES = Entity(AUDIT_FILTER, AUDIT_SORT)

# How task connections hang off their parents.
TASKS_BY_PROJECT = Partition(TASK.c.project_id)
TASKS_BY_PARENT = Partition(TASK.c.parent_id)
TASKS_BY_WORKER = Partition(
    ASSIGNMENT.c.worker_id, TASK.join(ASSIGNMENT, ASSIGNMENT.c.task_id == TASK.c.id), ASSIGNMENT
)
