"""The JSON compiler (db/services/json_reads.py) against what it stands in for.

That its answers are the resolver path's, byte for byte, is checked on every read of the
suite (tests/parity.py) and by the generated reads (tests/test_differential.py). Here: that
its relations are the schema's, that its cursors and timestamps are written exactly as
Python writes them, and that PostgreSQL really answers the benchmark's reads in one
statement each.
"""

import base64
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_nullable_type
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models.enums import TaskStatus
from db.services.catalog import TASK_SORT
from db.services.json_reads import RELATIONS, _cursor_value, _iso
from db.services.pagination import SortKey, encode_cursor
from db.settings import Settings
from db.statements import StatementCounter
from gql.planned_json import CONNECTION_OF_TYPE, ENTITY_OF_TYPE
from gql.schema import build_schema
from tests.factories import Member
from tests.graphql_client import GraphQLClient
from tests.test_planned import BENCHMARK, benchmark_variables

_TYPE_OF_ENTITY = {entity: name for name, entity in ENTITY_OF_TYPE.items()}


def test_every_compiled_relation_is_a_resolver_field_of_the_right_shape() -> None:
    schema = build_schema(Settings())._schema
    for (entity, name), relation in RELATIONS.items():
        object_type = schema.get_type(_TYPE_OF_ENTITY[entity])
        assert isinstance(object_type, GraphQLObjectType)
        fields = {
            f.extensions["strawberry-definition"].python_name: f
            for f in object_type.fields.values()
        }
        assert name in fields, (entity, name)
        field = fields[name]
        assert field.extensions["strawberry-definition"].base_resolver is not None, name
        shape = get_nullable_type(field.type)
        if relation.kind == "one":
            assert isinstance(shape, GraphQLObjectType), name
            assert ENTITY_OF_TYPE[shape.name] == relation.target, name
        elif relation.kind in ("many", "ancestors", "descendants"):
            assert isinstance(shape, GraphQLList), name
            item = shape.of_type
            item = item.of_type if isinstance(item, GraphQLNonNull) else item
            assert ENTITY_OF_TYPE[item.name] == relation.target, name
        elif relation.kind == "stats":
            assert isinstance(shape, GraphQLObjectType) and shape.name == "TaskStats", name
        else:
            assert relation.kind == "page", name
            assert isinstance(shape, GraphQLObjectType), name
            assert CONNECTION_OF_TYPE[shape.name] == relation.target, name


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 120, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        None,
    ],
)
async def test_timestamps_and_cursors_are_written_as_python_writes_them(
    engine: AsyncEngine, value: datetime | None
) -> None:
    column = sa.literal(value, sa.DateTime(timezone=True))
    declared = sa.Column("due_date", sa.DateTime(timezone=True), nullable=True)
    keys = (SortKey("due_date"), SortKey("id"))
    status = sa.literal(TaskStatus.IN_PROGRESS.name)
    cursor_sql = sa.func.concat(
        '{"c":"Task","o":"due_date:asc,id:asc","v":[',
        _cursor_value(declared, column, "datetime"),
        ",7]}",
    )
    async with engine.connect() as connection:
        iso, payload, name = (
            await connection.execute(sa.select(_iso(column), cursor_sql, status))
        ).one()
    assert iso == (None if value is None else value.isoformat())
    expected = encode_cursor(TASK_SORT, keys, [value, 7])
    assert base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=") == expected
    assert name == "IN_PROGRESS"


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_strings_and_numbers_are_written_as_orjson_writes_them(engine: AsyncEngine) -> None:
    """A known read splices the statements' JSON into its body (gql/known_reads.py `_body`)
    where the full path writes the parsed values with orjson: the two agree only if
    PostgreSQL escapes every character as orjson does, and writes a mean as orjson does."""
    characters = [chr(code) for code in range(1, 0x3000)]
    characters += ["\u2028", "\u2029", "\ufeff", "\uffff", "\U0001f600", "\U0010ffff"]
    means = [n / d for d in range(1, 400) for n in range(0, 100 * d + 1, 37)] + [100 / 3]
    async with engine.connect() as connection:

        async def written(sql: str, values: list[Any] | None = None) -> list[bytes]:
            found = await connection.execute(sa.text(sql), {"xs": values})
            return [text.encode() for text in found.scalars()]

        strings = await written(
            "SELECT to_json(x)::text FROM unnest(CAST(:xs AS text[])) AS x", characters
        )
        floats = await written(
            # Integral means are written as numeric(20, 1), below.
            "SELECT to_json(x)::text FROM unnest(CAST(:xs AS float8[])) AS x WHERE x <> trunc(x)",
            means,
        )
        integral = await written(
            "SELECT to_json(CAST(x AS numeric(20, 1)))::text FROM generate_series(0, 100) AS x"
        )
    assert strings == [orjson.dumps(c) for c in characters]
    assert floats == [orjson.dumps(m) for m in means if m != int(m)]
    assert len(floats) > 1000
    assert integral == [orjson.dumps(float(n)) for n in range(101)]


@pytest.mark.parametrize("dialect", ["postgresql", "pgbouncer"], indirect=True)
async def test_the_benchmark_reads_are_one_statement_each(
    engine: AsyncEngine, member: Member, gql: GraphQLClient, statements: StatementCounter
) -> None:
    variables = await benchmark_variables(engine, member, gql)
    for name, query in BENCHMARK.items():
        statements.reset()
        response = await gql(query, variables.get(name))
        assert response.data and not response.errors, name
        work = [s for s in statements.statements if "FROM api_token" not in s]
        # The JSON statement: its objects begin with a literal '{"key":'.
        assert len(work) == 1 and "'{\"" in work[0], (name, work)


@pytest.mark.parametrize(
    ("progress", "average"), [([0, 0, 100], 100 / 3), ([10, 20], 15.0), ([], None)]
)
async def test_project_statistics_are_python_s_numbers(
    gql: GraphQLClient, progress: list[int], average: float | None
) -> None:
    """The mean is the same double as Python's division, and an integral one stays a float
    (`15.0`): both paths answer, and parity compares their bytes."""
    project = await gql('mutation { createProject(input: {name: "Stats", slug: "stats"}) { id } }')
    project_id = project.data["createProject"]["id"]
    for n, value in enumerate(progress):
        created = await gql(
            "mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            {"input": {"title": f"t{n}", "projectId": project_id, "progressPercent": value}},
        )
        assert not created.errors, created.errors
    response = await gql(
        "query ($id: ID!) { project(id: $id) { stats { total averageProgress"
        " byStatus { status count } } } }",
        {"id": project_id},
    )
    stats = response.data["project"]["stats"]
    assert stats["total"] == len(progress)
    assert stats["averageProgress"] == average
    assert isinstance(stats["averageProgress"], float | None)
    assert [s["count"] for s in stats["byStatus"]] == [len(progress), 0, 0]
    # Each status's object in the order and under the names asked for (parity compares).
    shaped = await gql(
        "query ($id: ID!) { project(id: $id) { stats { byStatus"
        " { n: count __typename s: status } } } }",
        {"id": project_id},
    )
    assert shaped.data["project"]["stats"]["byStatus"][0] == {
        "n": len(progress),
        "__typename": "StatusCount",
        "s": "PENDING",
    }


def test_every_resolver_field_of_a_planned_type_is_compiled() -> None:
    """A relation added to a type without its entry in RELATIONS would still be answered (by
    the resolver path), but every read that touches it would lose the planned path."""
    schema = build_schema(Settings())._schema
    for type_name, entity in ENTITY_OF_TYPE.items():
        object_type = schema.get_type(type_name)
        assert isinstance(object_type, GraphQLObjectType)
        for field in object_type.fields.values():
            definition = field.extensions["strawberry-definition"]
            if definition.base_resolver is not None:
                assert (entity, definition.python_name) in RELATIONS, (type_name, field)
