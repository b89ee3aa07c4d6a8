"""The one place where failures become GraphQL error codes.

Clients see a message and `extensions.code`; anything not known to be safe is
masked as INTERNAL_SERVER_ERROR and logged in full on the server only.
"""

import logging
from enum import StrEnum

from graphql import GraphQLError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from db.errors import Conflict, DatabaseBusy, DomainError, Invalid, NotFound, StatementTimedOut
from db.services.base import is_unique_violation

log = logging.getLogger("taskql.errors")


class Code(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class Unauthenticated(DomainError):
    pass


class Forbidden(DomainError):
    pass


class ServiceUnavailable(DomainError):
    pass


_DOMAIN_CODES: list[tuple[type[DomainError], Code]] = [
    (Unauthenticated, Code.UNAUTHENTICATED),
    (Forbidden, Code.FORBIDDEN),
    (NotFound, Code.NOT_FOUND),
    (Invalid, Code.BAD_USER_INPUT),
    (Conflict, Code.CONFLICT),
    (ServiceUnavailable, Code.SERVICE_UNAVAILABLE),
]

UNAVAILABLE_MESSAGE = "the database is unavailable right now; retry later"
BUSY_MESSAGE = "the database is busy with other writes; retry shortly"
TIMEOUT_MESSAGE = "the request ran past the statement timeout"
INTERNAL_MESSAGE = "Unexpected error."

# PostgreSQL SQLSTATEs: query_canceled (statement_timeout), then the connection
# and server-availability classes.
_TIMEOUT_STATES = {"57014"}
_RETRY_STATES = {"40001", "40P01"}  # serialization failure, deadlock
_UNAVAILABLE_PREFIXES = ("08", "53", "57P")


def classify(exc: BaseException) -> tuple[Code, str] | None:
    """Code and client-safe message for a known failure; None for an unexpected one."""
    for cls, code in _DOMAIN_CODES:
        if isinstance(exc, cls):
            return code, exc.message
    if isinstance(exc, DatabaseBusy):
        return Code.SERVICE_UNAVAILABLE, BUSY_MESSAGE
    if isinstance(exc, StatementTimedOut):
        return Code.TIMEOUT, TIMEOUT_MESSAGE
    if isinstance(exc, ValidationError):
        return Code.BAD_USER_INPUT, describe_validation_error(exc)
    if isinstance(exc, IntegrityError):
        text = str(exc.orig)
        state = _sqlstate(exc)
        if is_unique_violation(exc):
            return Code.CONFLICT, "a concurrent change already took this value; retry"
        if state == "23503" or "FOREIGN KEY constraint failed" in text:
            # A row this write refers to was deleted by a concurrent transaction.
            return Code.NOT_FOUND, "a referenced row no longer exists"
        if state == "23514" or "CHECK constraint failed" in text:
            return Code.BAD_USER_INPUT, "the input breaks a rule of the data model"
    if isinstance(exc, DBAPIError):
        sqlstate = _sqlstate(exc)
        if sqlstate in _TIMEOUT_STATES:
            return Code.TIMEOUT, TIMEOUT_MESSAGE
        if sqlstate in _RETRY_STATES:
            return Code.CONFLICT, "a concurrent change got in the way; retry"
        if sqlstate is not None and sqlstate.startswith("22"):  # data exception: too long, ...
            return Code.BAD_USER_INPUT, "a value does not fit its field"
        if exc.connection_invalidated or (
            sqlstate is not None and sqlstate.startswith(_UNAVAILABLE_PREFIXES)
        ):
            return Code.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE
        if isinstance(exc, OperationalError) and "database is locked" in str(exc.orig):
            # SQLite's busy timeout ran out: another process held the write lock.
            return Code.SERVICE_UNAVAILABLE, BUSY_MESSAGE
    if is_connection_failure(exc):
        return Code.SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE
    return None


def describe_validation_error(exc: ValidationError) -> str:
    """'field: rule' for each failed rule, with GraphQL's camelCase field names."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        location = ".".join(_camel(str(part)) for part in err.get("loc", ()))
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts) or "invalid input"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


# SQLAlchemy's code for "Can't reconnect until invalid transaction is rolled back" (its other
# PendingRollbackErrors, after a failed flush, are not about the connection).
_INVALIDATED_MID_TRANSACTION = "8s2b"


def is_connection_failure(exc: BaseException | None) -> bool:
    """The database could not be reached, as opposed to a query that failed."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        # OSError covers refused and reset connections, unreachable hosts and timeouts.
        if isinstance(exc, PoolTimeoutError | OSError):
            return True
        if isinstance(exc, PendingRollbackError) and exc.code == _INVALIDATED_MID_TRANSACTION:
            # Another statement of the same session lost the connection first.
            return True
        if isinstance(exc, DBAPIError):
            if exc.connection_invalidated or "unable to open database" in str(exc.orig):
                return True
            exc = exc.orig
            continue
        exc = exc.__cause__ or exc.__context__
    return False


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(state) if state else None


def format_error(error: GraphQLError) -> GraphQLError:
    """Give every error a code, and mask the ones that are not known to be safe."""
    if error.extensions and "code" in error.extensions:
        return error
    original = _unwrap(error.original_error)
    if original is None:
        # graphql-core's own errors: syntax, validation, variable coercion, limits.
        return _with_code(error, error.message, Code.BAD_USER_INPUT)
    known = classify(original)
    if known is not None:
        code, message = known
        extensions = {"code": code.value}
        if isinstance(original, DomainError) and original.field:
            extensions["field"] = original.field
        return _copy(error, message, extensions)
    log.error(
        "unexpected error at %s",
        error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return _with_code(error, INTERNAL_MESSAGE, Code.INTERNAL_SERVER_ERROR)


def _unwrap(exc: BaseException | None) -> BaseException | None:
    # A GraphQLError raised inside a resolver wraps the real failure.
    while isinstance(exc, GraphQLError) and exc.original_error is not None:
        exc = exc.original_error
    if isinstance(exc, GraphQLError):
        return None
    return exc


def _with_code(error: GraphQLError, message: str, code: Code) -> GraphQLError:
    return _copy(error, message, {"code": code.value})


def _copy(error: GraphQLError, message: str, extensions: dict[str, str]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def error_body(message: str, code: Code) -> dict[str, object]:
    """A GraphQL-shaped response body for failures outside of execution."""
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code.value}}]}
