"""AuditEntry: one recorded change."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from db.models import AuditEntryRead
from db.models.enums import AuditAction
from gql.context import Context
from gql.types.deferred import deferred
from gql.types.rows import row_reader

if TYPE_CHECKING:
    from gql.types.worker import WorkerObject

WorkerRef = Annotated["WorkerObject", strawberry.lazy("gql.types.worker")]


@strawberry.experimental.pydantic.type(
    model=AuditEntryRead,
    name="AuditEntry",
    description="A change, recorded in the transaction that made it.",
)
class AuditEntryObject:
    id: strawberry.ID
    action: AuditAction
    entity_type: str = strawberry.field(
        description="The GraphQL type of the changed entity: Task, Project, Worker, TaskAssignment."
    )
    entity_id: strawberry.ID
    changes: JSON = strawberry.field(description="GraphQL field name -> [before, after].")
    created_at: datetime
    actor_id: strawberry.Private[int | None]

    @strawberry.field(description="Who made the change.")
    def actor(self, info: Info[Context, None]) -> WorkerRef | None:
        if self.actor_id is None:
            return None
        return deferred(info.context.loaders.worker_by_id.load(self.actor_id))


audit_from_row = row_reader(AuditEntryObject)
