"""TaskEvent: one committed change of a task, as subscribers receive it."""

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gql.context import Context
from gql.types.deferred import deferred

if TYPE_CHECKING:
    from gql.types.task import TaskObject
    from gql.types.worker import WorkerObject

TaskRef = Annotated["TaskObject", strawberry.lazy("gql.types.task")]
WorkerRef = Annotated["WorkerObject", strawberry.lazy("gql.types.worker")]


@strawberry.enum(name="TaskEventAction")
class TaskEventAction(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"
    ASSIGNED = "ASSIGNED"
    UNASSIGNED = "UNASSIGNED"


@strawberry.type(name="TaskEvent", description="A committed change of a task.")
class TaskEventObject:
    cursor: str = strawberry.field(
        description="Opaque; pass it as `after` to resume right after this event."
    )
    action: TaskEventAction
    task_id: strawberry.ID
    changes: JSON | None = strawberry.field(
        description="GraphQL field name -> [before, after], as in the audit log "
        "(CREATED: [null, value]; DELETED: [value, null]; ASSIGNED/UNASSIGNED: the assignment)."
    )
    occurred_at: datetime = strawberry.field(description="When the change committed.")
    actor_id: strawberry.Private[int | None]
    worker_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The task as it is when the event is delivered; null once deleted."
    )
    def task(self, info: Info[Context, None]) -> TaskRef | None:
        return deferred(info.context.loaders.task_by_id.load(int(self.task_id)))

    @strawberry.field(
        description="Who made the change; null when an operator made it with the command line."
    )
    def actor(self, info: Info[Context, None]) -> WorkerRef | None:
        if self.actor_id is None:
            return None
        return deferred(info.context.loaders.worker_by_id.load(self.actor_id))

    @strawberry.field(description="ASSIGNED / UNASSIGNED: the worker; otherwise null.")
    def worker(self, info: Info[Context, None]) -> WorkerRef | None:
        if self.worker_id is None:
            return None
        return deferred(info.context.loaders.worker_by_id.load(self.worker_id))
