"""Worker: a person or an agent."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db.models import WorkerRead
from db.models.enums import WorkerType
from gql.connection_args import nested_tasks
from gql.context import Context
from gql.inputs import TaskOrderBy, TaskWhere
from gql.types.connection import Connection
from gql.types.deferred import deferred
from gql.types.rows import row_reader

if TYPE_CHECKING:
    from gql.types.assignment import TaskAssignmentObject
    from gql.types.task import TaskObject

TaskRef = Annotated["TaskObject", strawberry.lazy("gql.types.task")]
AssignmentRef = Annotated["TaskAssignmentObject", strawberry.lazy("gql.types.assignment")]


@strawberry.experimental.pydantic.type(
    model=WorkerRead, name="Worker", description="A person or an AI agent of the team."
)
class WorkerObject:
    id: strawberry.ID
    handle: strawberry.auto
    name: strawberry.auto
    type: WorkerType
    created_at: datetime

    @strawberry.field(description="The worker's assignments, oldest first.")
    def assignments(self, info: Info[Context, None]) -> list[AssignmentRef]:
        return deferred(info.context.loaders.assignments_by_worker.load(int(self.id)))

    @strawberry.field(description="Tasks the worker is assigned to, in any role.")
    def tasks(
        self,
        info: Info[Context, None],
        where: TaskWhere | None = None,
        order_by: list[TaskOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[TaskRef]:
        return nested_tasks(info.context, "worker", int(self.id), where, order_by, first, after)


worker_from_row = row_reader(WorkerObject)
