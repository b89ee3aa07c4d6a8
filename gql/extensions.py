"""The operation boundary: a row budget, then the caller, then one commit or one rollback."""

import logging
from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gql.context import Context
from gql.cost import estimated_rows
from gql.errors import Code
from gql.socket_context import SocketContext

log = logging.getLogger("taskql")


class OperationBoundary(SchemaExtension):
    """Owns the transaction of an operation.

    Commits once when the operation succeeded and rolls back when any field
    failed, before the response is built: a client is never told a write
    succeeded unless its commit did. GraphQL answers 200 even when resolvers
    fail, so the decision comes from the result, never from the HTTP status.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        if isinstance(context, Context | SocketContext) and execution.graphql_document is not None:
            limit = context.settings.max_rows
            rows = estimated_rows(
                execution.graphql_document, execution.operation_name, execution.variables
            )
            if rows > limit:
                error = GraphQLError(
                    f"the operation may return {rows} rows; the limit is {limit}: "
                    "ask for smaller pages",
                    extensions={"code": Code.BAD_USER_INPUT.value},
                )
                if isinstance(context, SocketContext):
                    # A subscription starts regardless of a result set here: refuse it.
                    raise error
                # A result set here means graphql-core never runs, so no SQL either.
                execution.result = GraphQLExecutionResult(data=None, errors=[error])
                yield
                return
            if isinstance(context, Context):
                # Parsing and validation passed: now the caller is worth a database lookup.
                await context.authenticate()
        yield

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        result = execution.result
        context = execution.context
        if isinstance(context, Context) and result is not None:
            if result.errors:
                await _rollback(context)
            else:
                try:
                    await context.db.commit()
                except Exception as exc:  # noqa: BLE001 (becomes a coded GraphQL error)
                    await _rollback(context)
                    result.data = None
                    result.errors = [GraphQLError("commit failed", original_error=exc)]


async def _rollback(context: Context) -> None:
    """Roll back; on a connection that is already gone there is nothing left to undo."""
    try:
        await context.db.rollback()
    except Exception:
        log.warning("rollback failed", exc_info=True)
