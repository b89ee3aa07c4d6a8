"""What describes an entity in more than one place is held together here.

The Read models and the Strawberry types over them are the source: the rows' conversion to
GraphQL objects (gql/types/rows.py), the audit snapshots (TaskBase.model_fields), the row
budget's connection fields (gql/cost.py) and the planner's scalars are derived from them.
What is declared by hand beside them, because Strawberry needs a class it can read (the
`where` and `orderBy` inputs) or because it adds what the types cannot say (the catalog's
filter kinds, sort value types, relation joins), is compared with the source here; each
test names the file to change when it fails.
"""

import re

import pytest
from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from pydantic import BaseModel

from db.models.project import ProjectBase, ProjectUpdate
from db.models.task import TaskBase, TaskUpdate
from db.models.worker import WorkerBase, WorkerUpdate
from db.services import catalog
from db.services.filters import COMPARISONS, ENUM_OPS, STRING_OPS, Filterable
from db.services.pagination import Sortable
from db.settings import Settings
from gql import inputs
from gql.cost import connection_fields
from gql.schema import build_schema

_OPS_BY_KIND = {"comparable": COMPARISONS, "string": STRING_OPS, "enum": ENUM_OPS}
_LOGIC = {"and", "or", "not"}

# The where input of each entity of the catalog (its registry name).
WHERES: dict[str, tuple[str, Filterable]] = {
    "task": ("TaskWhere", catalog.TASK_FILTER),
    "project": ("ProjectWhere", catalog.PROJECT_FILTER),
    "worker": ("WorkerWhere", catalog.WORKER_FILTER),
    "audit": ("AuditWhere", catalog.AUDIT_FILTER),
}
ORDERS: list[tuple[type, Sortable]] = [
    (inputs.TaskOrderField, catalog.TASK_SORT),
    (inputs.ProjectOrderField, catalog.PROJECT_SORT),
    (inputs.WorkerOrderField, catalog.WORKER_SORT),
]


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema(Settings())._schema


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _input(schema: GraphQLSchema, name: str) -> GraphQLInputObjectType:
    found = schema.type_map[name]
    assert isinstance(found, GraphQLInputObjectType), name
    return found


@pytest.mark.parametrize("entity", list(WHERES))
def test_where_inputs_offer_what_the_catalog_compiles(schema: GraphQLSchema, entity: str) -> None:
    """A field in a where input that the catalog does not know is a 500 when a client uses
    it; one the catalog knows but the input leaves out cannot be asked for. Change
    gql/inputs.py and db/services/catalog.py together."""
    where_name, filterable = WHERES[entity]
    where = _input(schema, where_name)
    offered = {_snake(name): field for name, field in where.fields.items()}
    assert set(offered) - _LOGIC == set(filterable.fields) | set(filterable.relations)
    for name, kind in filterable.fields.items():
        assert name in filterable.table.c, f"{entity}.{name} is not a column"
        operators = _input(schema, get_named_type(offered[name].type).name)
        assert {_snake(op) for op in operators.fields} == _OPS_BY_KIND[kind], (
            f"{where_name}.{name}: its operators are not those of a {kind} field"
        )
    for name, (target, _) in filterable.relations.items():
        assert get_named_type(offered[name].type).name == WHERES[target][0], (
            f"{where_name}.{name} filters {target}s"
        )
    for logic in ("and", "or", "not"):
        assert get_named_type(offered[logic].type).name == where_name


@pytest.mark.parametrize(("enum", "sortable"), ORDERS, ids=[o[0].__name__ for o in ORDERS])
def test_order_fields_are_the_catalogs_sort_fields(enum: type, sortable: Sortable) -> None:
    """An orderBy member the catalog does not know is a 500. Change gql/inputs.py and
    db/services/catalog.py together."""
    members = {member.name: member.value for member in enum}  # type: ignore[attr-defined]
    assert set(members.values()) == set(sortable.fields)
    assert all(name == value.upper() for name, value in members.items())


def test_every_paged_field_is_a_connection_in_the_row_budget(schema: GraphQLSchema) -> None:
    """A field taking `first` must count against the row budget (gql/cost.py reads them off
    the schema by their Connection type), and a connection must take `first`."""
    fields = [
        (type_name, name, field)
        for type_name, graphql_type in schema.type_map.items()
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType)
        and not type_name.startswith("__")
        for name, field in graphql_type.fields.items()
    ]
    paged = {(type_name, name) for type_name, name, field in fields if "first" in field.args}
    connections = {
        (type_name, name)
        for type_name, name, field in fields
        if get_named_type(field.type).name.endswith("Connection")
    }
    assert paged == connections
    assert {name for _, name in paged} == connection_fields(schema)


@pytest.mark.parametrize(
    ("update", "base"),
    [(TaskUpdate, TaskBase), (ProjectUpdate, ProjectBase), (WorkerUpdate, WorkerBase)],
    ids=["Task", "Project", "Worker"],
)
def test_updates_offer_every_written_field(update: type[BaseModel], base: type[BaseModel]) -> None:
    """The Update model is the partial form of the Base model (db/models/): a field written
    at creation that an update cannot change would be frozen by accident."""
    assert list(update.model_fields) == list(base.model_fields)
