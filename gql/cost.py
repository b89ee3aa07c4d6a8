"""How many rows an operation can ask for, estimated before any SQL runs.

Depth and page-size limits alone still let one request multiply pages:
`projects(first: 100) { tasks(first: 100) { subtasks(first: 100) ... } }` asks for a
million tasks. The estimate adds up, for every connection field, the largest number of
rows it can return: its page size times the page sizes of the connections above it.
"""

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from db.services.pagination import DEFAULT_PAGE_SIZE


@lru_cache(maxsize=8)  # one entry per schema; an app builds one
def connection_fields(schema: GraphQLSchema) -> frozenset[str]:
    """The names of the fields that return a page of rows: read off the schema, so that a
    new connection field counts against the budget the moment it exists."""
    return frozenset(
        name
        for graphql_type in schema.type_map.values()
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__")
        for name, field in graphql_type.fields.items()
        if get_named_type(field.type).name.endswith("Connection")
    )


def estimated_rows(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    *,
    max_page_size: int,
    connections: frozenset[str],
) -> int:
    """The estimate for one operation, given its coerced variables.

    A page size the resolvers will refuse (negative, or over the maximum) counts as the
    largest valid one: the estimate stays an upper bound, and the resolver's own message
    ("first must be at most 100") tells the client what is wrong, whatever the number.
    """
    sizes = _PageSizes(variables, max_page_size, connections)
    return _selection(operation.selection_set, 1, fragments, sizes, frozenset())


def operation_fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _PageSizes:
    def __init__(
        self, variables: Mapping[str, Any], max_page_size: int, connections: frozenset[str]
    ) -> None:
        self.variables = variables
        self.max_page_size = max_page_size
        self.connections = connections

    def of(self, field: FieldNode) -> int | None:
        """The most rows `field` can return per parent; None when it is not a page of rows."""
        if field.name.value not in self.connections:
            return None
        sizes = [
            self._int(argument.value)
            for argument in field.arguments or ()
            if argument.name.value in ("first", "last")
        ]
        given = [size for size in sizes if size is not None]
        if not given:
            return min(DEFAULT_PAGE_SIZE, self.max_page_size)
        largest = max(given)
        return largest if 0 <= largest <= self.max_page_size else self.max_page_size

    def _int(self, node: Any) -> int | None:
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, VariableNode):
            value = self.variables.get(node.name.value)
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        return None


def _selection(
    selection_set: SelectionSetNode | None,
    multiplier: int,
    fragments: Mapping[str, FragmentDefinitionNode],
    sizes: _PageSizes,
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            factor = sizes.of(selection)
            rows = multiplier * factor if factor is not None else multiplier
            if factor is not None:
                total += rows
            total += _selection(selection.selection_set, rows, fragments, sizes, seen)
        elif isinstance(selection, InlineFragmentNode):
            total += _selection(selection.selection_set, multiplier, fragments, sizes, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += _selection(
                    fragments[name].selection_set, multiplier, fragments, sizes, seen | {name}
                )
    return total
