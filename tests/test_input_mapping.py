"""Mutation inputs mirror the Create/Update models field for field, so the models stay the
one place of validation. (Strawberry's pydantic input conversion fills fields left out with
the model's defaults, which would erase the difference between "left out" and "null" that
partial updates need; the inputs keep UNSET and hand the models only what was sent.)"""

import dataclasses

import pytest
from sqlmodel import SQLModel

from db.models import (
    ProjectCreate,
    ProjectUpdate,
    TaskCreate,
    TaskUpdate,
    WorkerCreate,
    WorkerUpdate,
)
from gql import mutation_inputs as inputs

PAIRS = [
    (inputs.CreateProjectInput, ProjectCreate, set()),
    (inputs.UpdateProjectInput, ProjectUpdate, set()),
    (inputs.CreateWorkerInput, WorkerCreate, set()),
    (inputs.UpdateWorkerInput, WorkerUpdate, set()),
    (inputs.CreateTaskInput, TaskCreate, {"assignee_ids"}),
    (inputs.UpdateTaskInput, TaskUpdate, set()),
]


@pytest.mark.parametrize(
    ("graphql_input", "model", "extra"), PAIRS, ids=[p[0].__name__ for p in PAIRS]
)
def test_input_fields_are_the_model_fields(
    graphql_input: type, model: type[SQLModel], extra: set[str]
) -> None:
    fields = {f.name for f in dataclasses.fields(graphql_input)}
    assert fields - extra == set(model.model_fields)


def test_left_out_and_null_stay_different() -> None:
    update = inputs.UpdateTaskInput(description=None)  # type: ignore[call-arg]
    assert inputs.given(update) == {"description": None}
    changes = TaskUpdate.model_validate(inputs.given(update)).model_dump(exclude_unset=True)
    assert changes == {"description": None}
    assert inputs.given(inputs.UpdateTaskInput(parent_id="0")) == {"parent_id": None}  # type: ignore[call-arg]
