"""What one request did, gathered while it runs, for its log line and its metrics.

The ASGI middleware (gql/observe.py) opens a record per request; the GraphQL side
fills in the operation and the error codes. A contextvar carries it: resolvers and
loader tasks copy the context, and with it the same record.
"""

from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

from graphql import GraphQLError
from graphql.language import OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext


@dataclass
class RequestRecord:
    request_id: str
    # None until a document parsed and validated: only valid operations are named.
    operation_type: str | None = None
    operation_name: str | None = None  # None for an anonymous operation
    error_codes: list[str] = field(default_factory=list)


_current: ContextVar[RequestRecord | None] = ContextVar("request_record", default=None)


def current_record() -> RequestRecord | None:
    return _current.get()


def open_record(request_id: str) -> tuple[RequestRecord, object]:
    record = RequestRecord(request_id)
    return record, _current.set(record)


def close_record(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def note_error_codes(codes: Iterator[str] | list[str]) -> None:
    record = _current.get()
    if record is not None:
        record.error_codes.extend(codes)


def note_errors(errors: list[GraphQLError]) -> None:
    """The codes of a response's errors (already formatted: every one has a code)."""
    note_error_codes([str((error.extensions or {}).get("code", "")) for error in errors])


def valid_operation(execution: ExecutionContext) -> tuple[str, str | None] | None:
    """(type, name) of the operation a request runs, once its document parsed and
    validated; None before that or when it did not."""
    if execution.pre_execution_errors or execution.graphql_document is None:
        return None
    wanted = execution.operation_name
    for definition in execution.graphql_document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            wanted is None or (definition.name is not None and definition.name.value == wanted)
        ):
            return definition.operation.value, definition.name.value if definition.name else None
    return None


class RecordOperation(SchemaExtension):
    """Puts the operation's type and name on the request's record once it validated."""

    def on_validate(self) -> Iterator[None]:
        yield
        record = _current.get()
        operation = valid_operation(self.execution_context)
        if record is not None and operation is not None:
            record.operation_type, record.operation_name = operation
