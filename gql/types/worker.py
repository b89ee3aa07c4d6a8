"""Worker: a person or an agent."""

from datetime import datetime

import strawberry

from db.models import WorkerRead
from db.models.enums import WorkerType


@strawberry.experimental.pydantic.type(
    model=WorkerRead, name="Worker", description="A person or an AI agent of the team."
)
class WorkerObject:
    id: strawberry.ID
    handle: strawberry.auto
    name: strawberry.auto
    type: WorkerType
    created_at: datetime
