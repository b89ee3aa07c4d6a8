"""The checks that run after validation and before execution, in the spec's order.

graphql-core would pick the operation and coerce the variables itself, but only when
execution starts, after the row budget (gql/cost.py) has read the variables' raw values:
an `Int` of 3000000000 was reported as "may return 3000000000 rows". Here the operation
is chosen and the variables coerced first, so the client hears about its actual mistake,
and the budget reads only values that execution would accept.
"""

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_variable_values,
)
from strawberry.types import ExecutionContext

from db.settings import Settings
from gql.cost import connection_fields, estimated_rows, operation_fragments
from gql.errors import Code
from gql.nul_strings import nul_variable_errors

# Coercion reports at most this many problems with the variables, as graphql-core does.
_MAX_VARIABLE_ERRORS = 50


def preflight_errors(execution: ExecutionContext, settings: Settings) -> list[GraphQLError]:
    """What is wrong with a validated operation before it may run; [] when nothing is."""
    document = execution.graphql_document
    assert document is not None
    # Strawberry fills in the first operation's name when the client sent none; the spec
    # asks for the name whenever there is more than one operation.
    operation = _chosen_operation(document, execution._provided_operation_name)
    if isinstance(operation, GraphQLError):
        return [operation]
    schema: GraphQLSchema = execution.schema._schema
    coerced = get_variable_values(
        schema,
        operation.variable_definitions or (),
        execution.variables or {},
        max_errors=_MAX_VARIABLE_ERRORS,
        hide_suggestions=not settings.introspection,
    )
    if isinstance(coerced, list):
        return [_bad_input(error) for error in coerced]
    nul = nul_variable_errors(operation.variable_definitions or (), execution.variables or {})
    if nul:
        return nul
    rows = estimated_rows(
        operation,
        operation_fragments(document),
        coerced.coerced,
        max_page_size=settings.max_page_size,
        connections=connection_fields(schema),
    )
    if rows > settings.max_rows:
        return [
            GraphQLError(
                f"the operation may return {rows} rows; the limit is {settings.max_rows}: "
                "ask for smaller pages",
                extensions={"code": Code.BAD_USER_INPUT.value},
            )
        ]
    return []


def _chosen_operation(
    document: DocumentNode, provided_name: str | None
) -> OperationDefinitionNode | GraphQLError:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if provided_name is None:
        if len(operations) > 1:
            return GraphQLError(
                "Must provide operation name if query contains multiple operations.",
                extensions={"code": Code.BAD_USER_INPUT.value},
            )
        return operations[0]
    for operation in operations:
        if operation.name is not None and operation.name.value == provided_name:
            return operation
    # Strawberry refuses an unknown name before validation; this is not reached.
    return GraphQLError(f'Unknown operation named "{provided_name}".')


def _bad_input(error: GraphQLError) -> GraphQLError:
    error.extensions = {**(error.extensions or {}), "code": Code.BAD_USER_INPUT.value}
    return error
