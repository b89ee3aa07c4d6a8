"""TaskAssignment: a worker on a task, in a role."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from db.models import TaskAssignmentRead
from db.models.enums import AssignmentRole
from gql.context import Context

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

    @strawberry.field
    async def task(self, info: Info[Context, None]) -> TaskRef:
        from gql.types.task import task_from_row

        return task_from_row(await info.context.loaders.task_by_id.load(self.task_id))

    @strawberry.field
    async def worker(self, info: Info[Context, None]) -> WorkerRef:
        from gql.types.worker import worker_from_row

        return worker_from_row(await info.context.loaders.worker_by_id.load(self.worker_id))


def assignment_from_row(row: Any) -> TaskAssignmentObject:
    return TaskAssignmentObject(
        role=row.role, assigned_at=row.assigned_at, task_id=row.task_id, worker_id=row.worker_id
    )
