"""Team: the tenant the caller belongs to."""

import strawberry

from db.models import TeamRead


@strawberry.experimental.pydantic.type(model=TeamRead, name="Team", description="A tenant.")
class TeamObject:
    id: strawberry.ID
    name: strawberry.auto
    slug: strawberry.auto
