"""TaskAssignment: a worker on a task, in a role."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db.models import TaskAssignmentRead
from db.models.enums import AssignmentRole
from gql.context import Context
from gql.types.deferred import deferred_present
from gql.types.rows import row_reader

if TYPE_CHECKING:
    from gql.types.task import TaskObject
    from gql.types.worker import WorkerObject

TaskRef = Annotated["TaskObject", strawberry.lazy("gql.types.task")]
WorkerRef = Annotated["WorkerObject", strawberry.lazy("gql.types.worker")]


@strawberry.experimental.pydantic.type(
    model=TaskAssignmentRead, name="TaskAssignment", description="A worker on a task, in a role."
)
class TaskAssignmentObject:
    role: AssignmentRole
    assigned_at: datetime
    task_id: strawberry.Private[int]
    worker_id: strawberry.Private[int]
    # Present when the assignment was loaded together with its worker.
    loaded_worker: strawberry.Private["WorkerObject | None"] = None

    @strawberry.field
    def task(self, info: Info[Context, None]) -> TaskRef:
        return deferred_present(info.context.loaders.task_by_id.load(self.task_id))

    @strawberry.field
    def worker(self, info: Info[Context, None]) -> WorkerRef:
        if self.loaded_worker is not None:
            return self.loaded_worker
        return deferred_present(info.context.loaders.worker_by_id.load(self.worker_id))


# `loaded_worker=` gives the worker when it was loaded together with the assignment.
assignment_from_row = row_reader(TaskAssignmentObject, besides=("loaded_worker",))
