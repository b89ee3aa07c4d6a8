"""Counts the SQL statements an operation sends.

StatementCounter records every statement of an engine (SQL budgets in tests; bench/
reports them). A StatementTally counts those of one asyncio context, a request, for
metrics and logs: one listener per engine and an integer increment per statement.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# Transaction control is not work the query asked for; SQLite's emulated BEGIN
# would otherwise make the dialects' counts differ.
_IGNORED_PREFIXES = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "PRAGMA")
_LONGEST_PREFIX = max(len(prefix) for prefix in _IGNORED_PREFIXES)


def is_work(statement: str) -> bool:
    """Whether a statement counts: anything but transaction control."""
    # Only the head is upper-cased: a statement can be kilobytes long.
    head = statement.lstrip()[:_LONGEST_PREFIX].upper()
    return not head.startswith(_IGNORED_PREFIXES)


class StatementCounter:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.sync_engine
        self.statements: list[str] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if is_work(statement):
            self.statements.append(statement)

    def reset(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)

    def __enter__(self) -> "StatementCounter":
        event.listen(self._engine, "before_cursor_execute", self._record)
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)


@dataclass
class StatementTally:
    count: int = 0


# Tasks copy the context they start in, and SQLAlchemy runs a statement's events in a
# greenlet that shares its caller's context: a loader's batch counts for its request.
_current_tally: ContextVar[StatementTally | None] = ContextVar("statement_tally", default=None)


@contextmanager
def tallying() -> Iterator[StatementTally]:
    """Count the statements sent from this context (and tasks it starts) until exit."""
    tally = StatementTally()
    token = _current_tally.set(tally)
    try:
        yield tally
    finally:
        _current_tally.reset(token)


def track_statements(engine: AsyncEngine) -> Callable[[], None]:
    """Let `tallying()` see this engine's statements; returns the function that stops it."""

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        tally = _current_tally.get()
        if tally is not None and is_work(statement):
            tally.count += 1

    sync_engine = engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    return lambda: event.remove(sync_engine, "before_cursor_execute", record)
