"""The Mutation root: each field validates its input with the models, calls one service
and returns the written row. The operation boundary commits once, or rolls back."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import strawberry
from pydantic import ValidationError
from strawberry.types import Info

from db.errors import DomainError, Invalid
from db.models import (
    AssignmentRole,
    ProjectCreate,
    ProjectUpdate,
    TaskCreate,
    TaskUpdate,
    WorkerCreate,
    WorkerUpdate,
)
from db.services import assignments
from db.services.projects import projects
from db.services.tasks import tasks
from db.services.workers import workers
from gql.context import Context
from gql.errors import describe_validation_error
from gql.ids import parse_id
from gql.mutation_inputs import (
    CreateProjectInput,
    CreateTaskInput,
    CreateWorkerInput,
    UpdateProjectInput,
    UpdateTaskInput,
    UpdateWorkerInput,
    given,
    id_list,
)
from gql.types.assignment import TaskAssignmentObject, assignment_from_row
from gql.types.project import ProjectObject, project_from_row
from gql.types.task import TaskObject, task_from_row
from gql.types.worker import WorkerObject, worker_from_row


def _task_create(input_: CreateTaskInput) -> tuple[TaskCreate, list[int]]:
    values = given(input_)
    assignee_ids = id_list(values.pop("assignee_ids", None), field="assigneeIds")
    return TaskCreate.model_validate(values), assignee_ids


# One transaction should stay short; clients split larger imports.
MAX_BATCH_INPUTS = 500


@contextmanager
def _naming_item(index: int) -> Iterator[None]:
    """Errors of one input of a list say which one: `input[3]: title: ...`."""
    try:
        yield
    except ValidationError as exc:
        raise Invalid(f"input[{index}]: {describe_validation_error(exc)}") from exc
    except DomainError as exc:
        raise type(exc)(f"input[{index}]: {exc.message}", field=exc.field) from exc


def _changes(model: Any, input_: object) -> dict[str, Any]:
    return dict(model.model_validate(given(input_)).model_dump(exclude_unset=True))


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_project(
        self, info: Info[Context, None], input: CreateProjectInput
    ) -> ProjectObject:
        ctx = info.context
        data = ProjectCreate.model_validate(given(input))
        async with ctx.writing() as (session, caller):
            row = await projects.create(session, caller, data)
        return project_from_row(row)

    @strawberry.mutation(description="Fields left out of the input are unchanged.")
    async def update_project(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateProjectInput
    ) -> ProjectObject:
        ctx = info.context
        changes = _changes(ProjectUpdate, input)
        async with ctx.writing() as (session, caller):
            row = await projects.update(
                session,
                caller,
                project_id=parse_id(id),
                changes=changes,
            )
        return project_from_row(row)

    @strawberry.mutation(description="Deletes the project and all of its tasks.")
    async def delete_project(self, info: Info[Context, None], id: strawberry.ID) -> strawberry.ID:
        ctx = info.context
        project_id = parse_id(id)
        async with ctx.writing() as (session, caller):
            await projects.delete(
                session,
                caller,
                project_id=project_id,
            )
        return strawberry.ID(str(project_id))

    @strawberry.mutation
    async def create_worker(
        self, info: Info[Context, None], input: CreateWorkerInput
    ) -> WorkerObject:
        ctx = info.context
        data = WorkerCreate.model_validate(given(input))
        async with ctx.writing() as (session, caller):
            row = await workers.create(session, caller, data)
        return worker_from_row(row)

    @strawberry.mutation(description="Fields left out of the input are unchanged.")
    async def update_worker(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateWorkerInput
    ) -> WorkerObject:
        ctx = info.context
        changes = _changes(WorkerUpdate, input)
        async with ctx.writing() as (session, caller):
            row = await workers.update(
                session,
                caller,
                worker_id=parse_id(id),
                changes=changes,
            )
        return worker_from_row(row)

    @strawberry.mutation
    async def create_task(self, info: Info[Context, None], input: CreateTaskInput) -> TaskObject:
        ctx = info.context
        data, assignee_ids = _task_create(input)
        async with ctx.writing() as (session, caller):
            row = await tasks.create(
                session,
                caller,
                data=data,
                assignee_ids=assignee_ids,
            )
        return task_from_row(row)

    @strawberry.mutation(description="All or nothing: one invalid input and none is created.")
    async def create_tasks(
        self, info: Info[Context, None], input: list[CreateTaskInput]
    ) -> list[TaskObject]:
        ctx = info.context
        if len(input) > MAX_BATCH_INPUTS:
            raise Invalid(f"input: at most {MAX_BATCH_INPUTS} tasks per call", field="input")
        created = []
        async with ctx.writing() as (session, caller):
            for index, item in enumerate(input):
                with _naming_item(index):
                    data, assignee_ids = _task_create(item)
                    row = await tasks.create(
                        session,
                        caller,
                        data=data,
                        assignee_ids=assignee_ids,
                    )
                created.append(row)
        return [task_from_row(row) for row in created]

    @strawberry.mutation(description="Fields left out of the input are unchanged.")
    async def update_task(
        self, info: Info[Context, None], id: strawberry.ID, input: UpdateTaskInput
    ) -> TaskObject:
        ctx = info.context
        changes = _changes(TaskUpdate, input)
        async with ctx.writing() as (session, caller):
            row = await tasks.update(
                session,
                caller,
                task_id=parse_id(id),
                changes=changes,
            )
        return task_from_row(row)

    @strawberry.mutation(description="Deletes the task and all of its subtasks.")
    async def delete_task(self, info: Info[Context, None], id: strawberry.ID) -> strawberry.ID:
        ctx = info.context
        task_id = parse_id(id)
        async with ctx.writing() as (session, caller):
            await tasks.delete(session, caller, task_id)
        return strawberry.ID(str(task_id))

    @strawberry.mutation(description="Assigning a worker already on the task is a CONFLICT.")
    async def assign_worker(
        self,
        info: Info[Context, None],
        task_id: strawberry.ID,
        worker_id: strawberry.ID,
        role: AssignmentRole = AssignmentRole.ASSIGNEE,
    ) -> TaskAssignmentObject:
        ctx = info.context
        async with ctx.writing() as (session, caller):
            (link,) = await assignments.assign(
                session,
                caller,
                task_id=parse_id(task_id, field="taskId"),
                worker_ids=[parse_id(worker_id, field="workerId")],
                role=role,
            )
        return assignment_from_row(link)

    @strawberry.mutation(description="Returns the task the worker was taken off.")
    async def unassign_worker(
        self, info: Info[Context, None], task_id: strawberry.ID, worker_id: strawberry.ID
    ) -> TaskObject:
        ctx = info.context
        task = parse_id(task_id, field="taskId")
        async with ctx.writing() as (session, caller):
            await assignments.unassign(
                session,
                caller,
                task_id=task,
                worker_id=parse_id(worker_id, field="workerId"),
            )
        found = await ctx.loaders.task_by_id.load(task)
        assert found is not None
        return found
