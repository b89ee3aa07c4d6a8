"""Mutation inputs. Their fields mirror the Create/Update models, which do the validating.

A field left out is UNSET and stays out of the dict handed to the model, so a
partial update changes exactly the fields the client sent (null included).
"""

import dataclasses
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types.unset import UNSET

from db.errors import Invalid
from db.models.enums import TaskPriority, TaskStatus, WorkerType
from gql.ids import parse_id, parse_optional_id
from gql.types import enums as _registered_enums  # noqa: F401  (before any input uses them)

# Fields holding ids of other rows; `0` means none.
_ID_FIELDS = {"project_id", "parent_id"}


def given(input_: object) -> dict[str, Any]:
    """The fields the client sent, ids parsed, ready for Model.model_validate."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(input_):  # type: ignore[arg-type]
        value = getattr(input_, f.name)
        if value is UNSET:
            continue
        if f.name in _ID_FIELDS:
            value = parse_optional_id(value, field=f.name)
        out[f.name] = value
    return out


MAX_IDS = 100


def id_list(values: list[strawberry.ID] | None, *, field: str) -> list[int]:
    if values and len(values) > MAX_IDS:
        raise Invalid(f"{field}: at most {MAX_IDS} ids", field=field)
    return [parse_id(value, field=field) for value in values or []]


@strawberry.input
class CreateProjectInput:
    name: str
    slug: str = strawberry.field(description="Lower-case words joined by '-', unique in the team.")
    description: str | None = UNSET


@strawberry.input(description="Fields left out are unchanged; null clears a nullable field.")
class UpdateProjectInput:
    name: str | None = UNSET
    slug: str | None = UNSET
    description: str | None = UNSET


@strawberry.input
class CreateWorkerInput:
    handle: str = strawberry.field(description="'@alice'; the '@' is added when left out.")
    name: str
    type: WorkerType


@strawberry.input(description="Fields left out are unchanged.")
class UpdateWorkerInput:
    handle: str | None = UNSET
    name: str | None = UNSET
    type: WorkerType | None = UNSET


@strawberry.input
class CreateTaskInput:
    title: str = strawberry.field(description="1 to 200 characters.")
    description: str | None = UNSET
    status: TaskStatus = TaskStatus.PENDING
    priority: TaskPriority = TaskPriority.MEDIUM
    progress_percent: int = strawberry.field(default=0, description="0 to 100.")
    due_date: datetime | None = UNSET
    project_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="0 or null for none. A subtask takes its parent's."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="0 or null for a top-level task."
    )
    assignee_ids: list[strawberry.ID] | None = strawberry.field(
        default=UNSET, description="Workers to assign as ASSIGNEE."
    )


@strawberry.input(description="Fields left out are unchanged; null clears a nullable field.")
class UpdateTaskInput:
    title: str | None = UNSET
    description: str | None = UNSET
    status: TaskStatus | None = UNSET
    priority: TaskPriority | None = UNSET
    progress_percent: int | None = UNSET
    due_date: datetime | None = UNSET
    project_id: strawberry.ID | None = UNSET
    parent_id: strawberry.ID | None = UNSET
