"""The session and loaders one event is resolved with.

A socket's context lives as long as the socket and is shared by its operations, so it holds
neither: each event gets a short session and fresh loaders (no stale cache from the previous
event), released as soon as its result is computed, before the result is sent (a client that
reads slowly must not hold a pooled connection).

The subscription's generator and the execution of each of its results run in the operation's
task, so the current scope is a context variable set by the generator and read by resolvers.
"""

from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.session import RequestSession

if TYPE_CHECKING:
    from gql.loaders import Loaders

_current: ContextVar["EventScope | None"] = ContextVar("taskql_event_scope", default=None)


class EventScope:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        team_id: int,
        resume_cursor: str,
        *,
        make_loaders: "Callable[[RequestSession, int], Loaders]",
    ) -> None:
        self.db = RequestSession(factory())
        # The loaders' module imports the types, which import this one: handed in.
        self.loaders = make_loaders(self.db, team_id)
        # Where the subscriber resumes if this event cannot be resolved (the database went
        # away after the outbox read): the event before it, so that resuming sends it again.
        self.resume_cursor = resume_cursor
        # Set by SocketGuard when the event's result was replaced by the subscription's end.
        self.unresolved = False

    async def close(self) -> None:
        # Waits for the event's loader batches, then hands the connection back.
        await self.db.close()


def current() -> EventScope:
    scope = _current.get()
    if scope is None:
        raise RuntimeError("no event is being resolved")
    return scope


def current_or_none() -> "EventScope | None":
    return _current.get()


def begin(scope: EventScope) -> None:
    _current.set(scope)


async def release() -> None:
    """Close the scope of the event just resolved (a no-op when there is none)."""
    scope = _current.get()
    if scope is not None:
        _current.set(None)
        await scope.close()
