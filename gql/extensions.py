"""The operation boundary: preflight checks, then the caller, then one commit or one rollback."""

from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gql.context import Context
from gql.preflight import preflight_errors
from gql.socket_context import SocketContext


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
            errors = preflight_errors(execution, context.settings)
            if errors:
                if isinstance(context, SocketContext):
                    # A subscription starts regardless of a result set here: refuse it.
                    raise errors[0]
                # A result set here means graphql-core never runs, so no SQL either.
                execution.result = GraphQLExecutionResult(data=None, errors=errors)
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
        if not isinstance(context, Context):
            return
        # The request's database work ends here, before the response is serialized:
        # every straggling loader batch is waited for, then one commit or rollback.
        if result is None or result.errors:
            await context.db.close()
            return
        try:
            await context.db.end(commit=True)
        except Exception as exc:  # noqa: BLE001 (becomes a coded GraphQL error)
            result.data = None
            result.errors = [GraphQLError("commit failed", original_error=exc)]
