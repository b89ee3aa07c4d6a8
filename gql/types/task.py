"""Task: a unit of work with subtasks of any depth."""

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from db.errors import Invalid
from db.models import TaskRead
from db.models.enums import AssignmentRole, TaskPriority, TaskStatus
from gql.connection_args import nested_tasks
from gql.context import Context
from gql.inputs import TaskOrderBy, TaskWhere
from gql.types.connection import Connection
from gql.types.deferred import deferred
from gql.types.rows import row_reader

if TYPE_CHECKING:
    from gql.types.assignment import TaskAssignmentObject
    from gql.types.project import ProjectObject
    from gql.types.worker import WorkerObject

ProjectRef = Annotated["ProjectObject", strawberry.lazy("gql.types.project")]
WorkerRef = Annotated["WorkerObject", strawberry.lazy("gql.types.worker")]
AssignmentRef = Annotated["TaskAssignmentObject", strawberry.lazy("gql.types.assignment")]
# The generated class lives in another module, so even self-references must be lazy.
TaskRef = Annotated["TaskObject", strawberry.lazy("gql.types.task")]


@strawberry.experimental.pydantic.type(
    model=TaskRead, name="Task", description="A unit of work; subtasks nest to any depth."
)
class TaskObject:
    id: strawberry.ID
    title: strawberry.auto
    description: strawberry.auto
    status: TaskStatus
    priority: TaskPriority
    progress_percent: int
    due_date: datetime | None
    created_at: datetime
    updated_at: datetime
    project_id: strawberry.ID | None
    parent_id: strawberry.ID | None

    @strawberry.field(description="The project the task belongs to, if any.")
    def project(self, info: Info[Context, None]) -> ProjectRef | None:
        if self.project_id is None:
            return None
        return deferred(info.context.loaders.project_by_id.load(int(self.project_id)))

    @strawberry.field(description="The parent task; null for a top-level task.")
    def parent(self, info: Info[Context, None]) -> TaskRef | None:
        if self.parent_id is None:
            return None
        return deferred(info.context.loaders.task_by_id.load(int(self.parent_id)))

    @strawberry.field(description="The direct subtasks.")
    def subtasks(
        self,
        info: Info[Context, None],
        where: TaskWhere | None = None,
        order_by: list[TaskOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[TaskRef]:
        return nested_tasks(info.context, "parent", int(self.id), where, order_by, first, after)

    @strawberry.field(description="Who is assigned, in which role, oldest assignment first.")
    def assignments(self, info: Info[Context, None]) -> list[AssignmentRef]:
        return deferred(info.context.loaders.assignments_by_task.load(int(self.id)))

    @strawberry.field(description="The assigned workers, in any role or in the one given.")
    async def workers(
        self, info: Info[Context, None], role: AssignmentRole | None = None
    ) -> list[WorkerRef]:
        loaders = info.context.loaders
        links = await loaders.assignments_by_task.load(int(self.id))
        ids = [link.worker_id for link in links if role is None or link.role == role]
        return [w for w in await loaders.worker_by_id.load_many(ids) if w is not None]

    @strawberry.field(description="Every ancestor, root first, direct parent last.")
    def ancestors(self, info: Info[Context, None]) -> list[TaskRef]:
        return deferred(info.context.loaders.ancestors.load(int(self.id)))

    @strawberry.field(
        description="Every descendant breadth-first (level by level, by id within a level), "
        "the task itself excluded. maxDepth 1 is the children only; null is all levels."
    )
    def descendants(self, info: Info[Context, None], max_depth: int | None = None) -> list[TaskRef]:
        if max_depth is not None and max_depth < 0:
            raise Invalid("maxDepth must not be negative", field="maxDepth")
        return deferred(info.context.loaders.descendants(max_depth).load(int(self.id)))


# A row of the task table as the GraphQL type, without validating it again.
task_from_row = row_reader(TaskObject)
