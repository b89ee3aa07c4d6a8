"""The per-request context: the request's session, the caller, the loaders."""

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext

from db.services import tokens
from db.services.caller import Caller
from db.services.tokens import Principal
from db.session import RequestSession
from db.settings import Settings
from db.token_refresh import TokenRefresher
from gql.errors import (
    UNAVAILABLE_MESSAGE,
    ServiceUnavailable,
    Unauthenticated,
    is_connection_failure,
)

if TYPE_CHECKING:
    from gql.loaders import Loaders


@dataclass
class Context(BaseContext):
    db: RequestSession
    settings: Settings
    token: str | None
    refresher: TokenRefresher
    # Handed in by the app (gql.loaders.build_loaders): the loaders' module imports the
    # types, which import this one, so this one does not import it.
    make_loaders: "Callable[[RequestSession, int], Loaders]"
    principal_or_none: Principal | None = None
    auth_failure: BaseException | None = field(default=None, repr=False)
    _loaders: "Loaders | None" = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__init__()

    async def authenticate(self) -> None:
        """Look the token up once the operation is known to be valid: a rejected query
        costs the database nothing. A failure is kept for the fields that need a caller."""
        if self.token is None:
            return
        token = self.token
        self.principal_or_none = self.refresher.principal(token)
        if self.principal_or_none is not None:
            return
        try:
            self.principal_or_none = await tokens.look_up(
                self.db,
                token,
                touch_interval=self.refresher.touch_interval,
                remember_for=self.refresher.cache_seconds,
            )
        except Exception as exc:  # noqa: BLE001 (kept, and raised where a caller is needed)
            self.principal_or_none = None
            self.auth_failure = exc

    @property
    def principal(self) -> Principal:
        if self.auth_failure is not None:
            if is_connection_failure(self.auth_failure):
                raise ServiceUnavailable(UNAVAILABLE_MESSAGE)
            raise self.auth_failure
        if self.principal_or_none is None:
            raise Unauthenticated(
                "a valid API token is required: send 'Authorization: Bearer <token>'"
            )
        return self.principal_or_none

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[tuple[AsyncSession, Caller]]:
        """The write session and the caller, checked before any write lock is taken."""
        caller = self.principal.caller
        async with self.db.write() as session:
            yield session, caller

    @property
    def team_id(self) -> int:
        return self.principal.team_id

    @property
    def loaders(self) -> "Loaders":
        fresh = _FRESH_LOADERS.get()
        if fresh is not None:
            if not fresh:  # made on first use, where a missing caller is the field's error
                fresh.append(self.make_loaders(self.db, self.team_id))
            return fresh[0]
        if self._loaders is None:
            self._loaders = self.make_loaders(self.db, self.team_id)
        return self._loaders

    @contextmanager
    def fresh_loaders(self) -> Iterator[None]:
        """Loaders of their own for what runs inside (in this task and the tasks it starts):
        a root field answered again by graphql-core after the planned path gave up meets no
        future that the attempt already settled, so it reaches its errors in the same order
        as the resolver path does."""
        token = _FRESH_LOADERS.set([])
        try:
            yield
        finally:
            _FRESH_LOADERS.reset(token)


# The loaders of a `fresh_loaders` block: a list holding them once made.
_FRESH_LOADERS: "ContextVar[list[Loaders] | None]" = ContextVar(
    "taskql_fresh_loaders", default=None
)
