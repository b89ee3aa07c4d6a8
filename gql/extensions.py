"""Schema extensions: the operation boundary (one commit or one rollback) and error codes."""

from collections.abc import AsyncIterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from gql.context import Context
from gql.errors import format_error


class OperationBoundary(SchemaExtension):
    """Owns the transaction of an operation.

    Commits once when the operation succeeded and rolls back when any field
    failed, before the response is built: a client is never told a write
    succeeded unless its commit did. GraphQL answers 200 even when resolvers
    fail, so the decision comes from the result, never from the HTTP status.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        # Parsing and validation passed: now the caller is worth a database lookup.
        context = self.execution_context.context
        if isinstance(context, Context):
            await context.authenticate()
        yield

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        execution = self.execution_context
        result = execution.result
        context = execution.context
        if isinstance(context, Context) and result is not None:
            if result.errors:
                await context.db.rollback()
            else:
                try:
                    await context.db.commit()
                except Exception as exc:  # noqa: BLE001 (becomes a coded GraphQL error)
                    await context.db.rollback()
                    result.data = None
                    result.errors = [GraphQLError("commit failed", original_error=exc)]
        if result is not None and result.errors:
            result.errors = [format_error(error) for error in result.errors]
