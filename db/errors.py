"""Domain errors raised by services; the GraphQL layer maps each to an error code."""


class DomainError(Exception):
    """A failure the caller can act on. The message is safe to show to clients."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """The id does not exist, or belongs to another team: callers cannot tell which."""


class Conflict(DomainError):
    """A uniqueness rule would be broken."""


class Invalid(DomainError):
    """The input breaks a validation rule."""


class DatabaseBusy(Exception):
    """The database is up but busy with other writes: retrying shortly will do."""


class StatementTimedOut(Exception):
    """A statement ran past the statement timeout (enforced by the client: the query was
    cancelled on the server). `index`: which of the statements sent together it was."""

    def __init__(self, index: int = 0) -> None:
        super().__init__("the statement ran past the statement timeout")
        self.index = index
