"""A root field's selection as a plan the database answers in one JSON statement.

graphql-core's own field collection (fragments, aliases, @skip/@include, merging) gives
the keys; the schema gives each field's type; the arguments are coerced, converted and
validated by the same functions the resolvers call (`to_tree`, `order_keys`,
`page_window`, `parse_id`), so an argument the resolver path refuses is refused here
before any SQL. The plan is plain values (db.services.json_reads); fields the compiler
does not build raise `Unplannable`, and the caller answers the root field another way.
"""

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    get_nullable_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.values import get_argument_values
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from db.services import json_reads
from db.services.json_reads import (
    Constant,
    Field,
    PageSpec,
    Part,
    Related,
    Root,
    Scalar,
    Unplannable,
)
from gql.connection_args import order_keys, page_window
from gql.context import Context
from gql.ids import parse_id
from gql.inputs import to_tree
from gql.lookups import project_lookup, worker_lookup

_DEFINITION = "strawberry-definition"

# The GraphQL object types the compiler builds, and the entity each one shows.
ENTITY_OF_TYPE = {
    "Task": "task",
    "Project": "project",
    "Worker": "worker",
    "TaskAssignment": "assignment",
}
# Connection types: their nodes' entity.
CONNECTION_OF_TYPE = {
    "TaskConnection": "task",
    "ProjectConnection": "project",
    "WorkerConnection": "worker",
}
_CONNECTION_PARTS = {"nodes", "edges", "pageInfo", "totalCount"}
_EDGE_PARTS = {"cursor", "node"}
_PAGE_INFO_PARTS = {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}
_STATS_PARTS = {"total", "averageProgress"}
_STATUS_COUNT_PARTS = {"status", "count"}


class Planner:
    """Builds the plan of one root field for one execution."""

    def __init__(self, executor: StrawberryGraphQLCoreExecutionContext) -> None:
        self.executor = executor
        context = executor.context_value
        assert isinstance(context, Context)
        self.context = context

    def root(self, parent_type: GraphQLObjectType, details: FieldDetailsList) -> Root:
        name = details[0].node.name.value
        field_def, definition = self._definition(parent_type, details)
        args = self.arguments(field_def, definition, details)
        named = get_nullable_type(field_def.type)
        lookup = _ROOT_LOOKUPS.get(name)
        if lookup is not None:
            assert isinstance(named, GraphQLObjectType)
            entity = ENTITY_OF_TYPE[named.name]
            return Root(entity, where=lookup(self.context, args), fields=self.obj(named, details))
        if isinstance(named, GraphQLObjectType) and named.name in CONNECTION_OF_TYPE:
            if name not in _ROOT_CONNECTIONS:
                raise Unplannable(f"Query.{name}")
            entity = CONNECTION_OF_TYPE[named.name]
            return Root(entity, page=self.page(named, details, args, backward=True))
        raise Unplannable(f"Query.{name}")

    # -- fields ---------------------------------------------------------------------------

    def obj(self, object_type: GraphQLObjectType, details: FieldDetailsList) -> tuple[Field, ...]:
        entity = ENTITY_OF_TYPE.get(object_type.name)
        if entity is None:
            raise Unplannable(f"type {object_type.name}")
        fields: list[Field] = []
        for key, sub in self._collect(object_type, details):
            name = sub[0].node.name.value
            if name == "__typename":
                fields.append(Constant(key, object_type.name))
                continue
            field_def, definition = self._definition(object_type, sub)
            leaf = get_nullable_type(field_def.type)
            if definition.base_resolver is None:
                column = definition.python_name
                if not isinstance(leaf, GraphQLLeafType) or not json_reads.has_column(
                    entity, column
                ):
                    raise Unplannable(f"{object_type.name}.{name}")
                fields.append(Scalar(key, column, text=leaf.name == "ID"))
                continue
            fields.append(self.related(entity, object_type, key, sub, field_def, definition))
        return tuple(fields)

    def related(
        self,
        entity: str,
        object_type: GraphQLObjectType,
        key: str,
        details: FieldDetailsList,
        field_def: GraphQLField,
        definition: StrawberryField,
    ) -> Related:
        relation = definition.python_name
        kind = json_reads.relation_kind(entity, relation)
        if kind is None:
            raise Unplannable(f"{object_type.name}.{relation}")
        target = _named(field_def.type)
        args = self.arguments(field_def, definition, details)
        if kind == "page":
            return Related(key, relation, page=self.page(target, details, args, backward=False))
        if kind == "stats":
            return Related(key, relation, parts=self._stats(target, details))
        given = tuple(sorted((name, value) for name, value in args.items() if value is not None))
        if given and kind not in ("many", "descendants"):
            raise Unplannable(f"{object_type.name}.{relation} with arguments")
        return Related(key, relation, fields=self.obj(target, details), arguments=given)

    def page(
        self,
        connection_type: GraphQLObjectType,
        details: FieldDetailsList,
        args: dict[str, Any],
        *,
        backward: bool,
    ) -> PageSpec:
        """A connection's arguments, validated as its resolver validates them, and its parts."""
        ctx = self.context
        if backward:
            win = page_window(
                ctx, args.get("first"), args.get("after"), args.get("last"), args.get("before")
            )
        else:
            win = page_window(ctx, args.get("first"), args.get("after"))
        where = to_tree(args.get("where"))
        keys = order_keys(args.get("order_by"))
        parts: list[Part] = []
        for key, sub in self._collect(connection_type, details):
            name = sub[0].node.name.value
            if name == "__typename":
                parts.append(Part(key, "typename", value=connection_type.name))
            elif name == "nodes":
                node_type = _named(self._field(connection_type, name).type)
                parts.append(Part(key, "nodes", self.obj(node_type, sub)))
            elif name == "edges":
                edge_type = _named(self._field(connection_type, name).type)
                parts.append(Part(key, "edges", self._edge(edge_type, sub)))
            elif name == "pageInfo":
                info_type = _named(self._field(connection_type, name).type)
                parts.append(Part(key, "pageInfo", self._parts(info_type, sub, _PAGE_INFO_PARTS)))
            elif name == "totalCount":
                parts.append(Part(key, "totalCount"))
            else:
                raise Unplannable(f"{connection_type.name}.{name}")
        return PageSpec(where, keys, win, tuple(parts))

    def _stats(self, stats_type: GraphQLObjectType, details: FieldDetailsList) -> tuple[Part, ...]:
        parts: list[Part] = []
        for key, sub in self._collect(stats_type, details):
            name = sub[0].node.name.value
            if name == "byStatus":
                count_type = _named(self._field(stats_type, name).type)
                parts.append(Part(key, name, self._parts(count_type, sub, _STATUS_COUNT_PARTS)))
            else:
                parts.extend(self._parts(stats_type, sub, _STATS_PARTS, key))
        return tuple(parts)

    def _edge(self, edge_type: GraphQLObjectType, details: FieldDetailsList) -> tuple[Part, ...]:
        parts: list[Part] = []
        for key, sub in self._collect(edge_type, details):
            name = sub[0].node.name.value
            if name == "node":
                node_type = _named(self._field(edge_type, name).type)
                parts.append(Part(key, "node", self.obj(node_type, sub)))
            else:
                parts.extend(self._parts(edge_type, sub, _EDGE_PARTS, key))
        return tuple(parts)

    def _parts(
        self,
        object_type: GraphQLObjectType,
        details: FieldDetailsList,
        allowed: set[str],
        only_key: str | None = None,
    ) -> tuple[Part, ...]:
        """Leaf parts: the subfields of `details`, or (with only_key) that one field."""
        items = (
            [(only_key, details)] if only_key is not None else self._collect(object_type, details)
        )
        parts: list[Part] = []
        for key, sub in items:
            name = sub[0].node.name.value
            if name == "__typename":
                parts.append(Part(key, "typename", value=object_type.name))
            elif name in allowed:
                parts.append(Part(key, name))
            else:
                raise Unplannable(f"{object_type.name}.{name}")
        return tuple(parts)

    # -- graphql-core and Strawberry, as the executor uses them ---------------------------------

    def _collect(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> list[tuple[str, FieldDetailsList]]:
        grouped = self.executor.collect_subfields(object_type, details).grouped_field_set
        return list(grouped.items())

    def _field(self, object_type: GraphQLObjectType, name: str) -> GraphQLField:
        field_def = self.executor.schema.get_field(object_type, name)
        if field_def is None:
            raise Unplannable(f"{object_type.name}.{name} is not in the schema")
        return field_def

    def _definition(
        self, object_type: GraphQLObjectType, details: FieldDetailsList
    ) -> tuple[GraphQLField, StrawberryField]:
        field_def = self._field(object_type, details[0].node.name.value)
        definition: StrawberryField | None = (field_def.extensions or {}).get(_DEFINITION)
        if definition is None or definition.extensions:
            raise Unplannable(f"{object_type.name}.{field_def} is not a plain Strawberry field")
        return field_def, definition

    def arguments(
        self, field_def: GraphQLField, definition: StrawberryField, details: FieldDetailsList
    ) -> dict[str, Any]:
        return resolver_arguments(self.executor, field_def, definition, details)


def resolver_arguments(
    executor: StrawberryGraphQLCoreExecutionContext,
    field_def: GraphQLField,
    definition: StrawberryField,
    details: FieldDetailsList,
) -> dict[str, Any]:
    """A field's arguments as its resolver receives them (Python names), coerced and
    converted as graphql-core and Strawberry do for the resolver path."""
    strawberry_schema = executor.schema._strawberry_schema  # type: ignore[attr-defined]
    node = details[0]
    raw = get_argument_values(
        field_def,
        node.node,
        executor.variable_values,
        node.fragment_variable_values,
        executor.hide_suggestions,
    )
    return convert_arguments(
        raw,
        definition.arguments,
        scalar_registry=strawberry_schema.schema_converter.scalar_registry,
        config=strawberry_schema.config,
    )


def _named(output_type: GraphQLOutputType) -> GraphQLObjectType:
    """The object type of a field (through non-null and list wrappers)."""
    while isinstance(output_type, GraphQLNonNull | GraphQLList):
        output_type = output_type.of_type
    if not isinstance(output_type, GraphQLObjectType):
        raise Unplannable(f"{output_type}")
    return output_type


def _task_lookup(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": {"eq": parse_id(args["id"])}}


def _me_lookup(ctx: Context, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": {"eq": ctx.principal.worker_id}}


# Root fields answering one object, and the filter that finds it (the resolvers' own).
_ROOT_LOOKUPS: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
    "task": _task_lookup,
    "me": _me_lookup,
    "project": lambda ctx, args: project_lookup(args.get("id"), args.get("slug")),
    "worker": lambda ctx, args: worker_lookup(args.get("id"), args.get("handle")),
}
_ROOT_CONNECTIONS = {"tasks", "projects", "workers"}
