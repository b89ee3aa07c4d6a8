"""Project: a named body of work; has many tasks."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db.models import ProjectRead
from gql.connection_args import nested_tasks
from gql.context import Context
from gql.inputs import TaskOrderBy, TaskWhere
from gql.types.connection import Connection
from gql.types.deferred import deferred
from gql.types.rows import row_reader
from gql.types.stats import TaskStatsObject

if TYPE_CHECKING:
    from gql.types.task import TaskObject

TaskRef = Annotated["TaskObject", strawberry.lazy("gql.types.task")]


@strawberry.experimental.pydantic.type(
    model=ProjectRead, name="Project", description="A named body of work of the team."
)
class ProjectObject:
    id: strawberry.ID
    name: strawberry.auto
    slug: strawberry.auto
    description: strawberry.auto
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="The project's tasks, at every depth.")
    def tasks(
        self,
        info: Info[Context, None],
        where: TaskWhere | None = None,
        order_by: list[TaskOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[TaskRef]:
        return nested_tasks(info.context, "project", int(self.id), where, order_by, first, after)

    @strawberry.field(description="Statistics over all of the project's tasks.")
    def stats(self, info: Info[Context, None]) -> TaskStatsObject:
        return deferred(info.context.loaders.project_stats.load(int(self.id)))


project_from_row = row_reader(ProjectObject)
