"""How many rows an operation can ask for, estimated before any SQL runs.

Depth and page-size limits alone still let one request multiply pages:
`projects(first: 100) { tasks(first: 100) { subtasks(first: 100) ... } }` asks for a
million tasks. The estimate adds up, for every connection field, the largest number of
rows it can return: its page size times the page sizes of the connections above it.
"""

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)

from db.services.pagination import DEFAULT_PAGE_SIZE

# The fields that return a page of rows (cursor connections).
CONNECTION_FIELDS = frozenset({"tasks", "projects", "workers", "subtasks", "auditLog"})


def estimated_rows(
    document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None
) -> int:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if not chosen:
        return 0
    return _selection(chosen[0].selection_set, 1, fragments, variables or {}, frozenset())


def _selection(
    selection_set: SelectionSetNode | None,
    multiplier: int,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    seen: frozenset[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            factor = (
                _page_size(selection, variables)
                if selection.name.value in CONNECTION_FIELDS
                else None
            )
            rows = multiplier * factor if factor is not None else multiplier
            if factor is not None:
                total += rows
            total += _selection(selection.selection_set, rows, fragments, variables, seen)
        elif isinstance(selection, InlineFragmentNode):
            total += _selection(selection.selection_set, multiplier, fragments, variables, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += _selection(
                    fragments[name].selection_set, multiplier, fragments, variables, seen | {name}
                )
    return total


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int:
    sizes = [
        _int(argument.value, variables)
        for argument in field.arguments or ()
        if argument.name.value in ("first", "last")
    ]
    given = [size for size in sizes if size is not None]
    return max(given) if given else DEFAULT_PAGE_SIZE


def _int(node: Any, variables: Mapping[str, Any]) -> int | None:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, VariableNode):
        value = variables.get(node.name.value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return None
