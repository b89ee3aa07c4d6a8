"""What guards operations over the WebSocket, where the HTTP path's hooks do not run.

Only subscriptions travel over the socket, and subscriptions only over the socket. Socket
results never pass the router's process_result, so their errors are coded and masked here,
per result; and each event's session is released here, once its result is computed and
before it is sent.
"""

from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from gql import event_scope
from gql.context import Context
from gql.errors import Code, format_error
from gql.socket_context import SocketContext
from gql.subscriptions import database_away


class SocketGuard(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        if (
            isinstance(execution.context, Context)
            and execution.operation_type is OperationType.SUBSCRIPTION
        ):
            # Over HTTP a subscription would run as a query: refused before graphql-core runs.
            execution.result = GraphQLExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "subscriptions run over the WebSocket (graphql-transport-ws) on this path",
                        extensions={"code": Code.BAD_USER_INPUT.value},
                    )
                ],
            )
            yield
            return
        if (
            isinstance(execution.context, SocketContext)
            and execution.operation_type is not OperationType.SUBSCRIPTION
        ):
            raise GraphQLError(
                "only subscriptions run over the WebSocket; send queries and mutations "
                "over HTTP POST",
                extensions={"code": Code.BAD_USER_INPUT.value},
            )
        yield

    async def on_stream_result(self, result: object) -> AsyncIterator[None]:
        if isinstance(self.execution_context.context, SocketContext):
            scope = event_scope.current_or_none()
            await event_scope.release()
            if isinstance(result, ExecutionResult) and result.errors:
                result.errors = [format_error(error) for error in result.errors]
                if scope is not None and _unavailable(result.errors):
                    # The database went away between the outbox read and this event's
                    # resolution. Sent as it is, the event would carry its cursor with
                    # `task` (or `actor`) null: a client that stores the cursor would never
                    # get the data. The subscription ends instead, with the cursor of the
                    # event before, so resuming there delivers this one whole.
                    scope.unresolved = True
                    result.data = None
                    result.errors = [database_away(scope.resume_cursor)]
        yield


def _unavailable(errors: list[GraphQLError]) -> bool:
    return any(
        (error.extensions or {}).get("code") == Code.SERVICE_UNAVAILABLE.value for error in errors
    )
