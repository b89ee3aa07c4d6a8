"""The per-request context: one session (access serialized), the caller, the loaders."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext

from db.engine import WRITE_TRANSACTION
from db.services import tokens
from db.services.caller import Caller
from db.services.tokens import Principal
from db.settings import Settings
from gql.errors import (
    UNAVAILABLE_MESSAGE,
    ServiceUnavailable,
    Unauthenticated,
    is_connection_failure,
)

if TYPE_CHECKING:
    from gql.loaders import Loaders


class RequestSession:
    """The request's AsyncSession behind a lock.

    Sibling resolvers and loaders run concurrently, and an AsyncSession must
    never be used by two tasks at once.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._lock = asyncio.Lock()
        self._writing = False

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            yield self._session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """The session inside the operation's write transaction.

        The first write of an operation ends the read transaction the token lookup
        opened and begins one that takes SQLite's write lock up front: a read
        transaction that later writes would fail at once when another writer got
        there first, instead of waiting its turn.
        """
        async with self._lock:
            if not self._writing:
                if self._session.in_transaction():
                    await self._session.commit()
                await self._session.connection(execution_options={WRITE_TRANSACTION: True})
                self._writing = True
            yield self._session

    async def commit(self) -> None:
        async with self._lock:
            await self._session.commit()

    async def rollback(self) -> None:
        async with self._lock:
            await self._session.rollback()


@dataclass
class Context(BaseContext):
    db: RequestSession
    settings: Settings
    token: str | None
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
        try:
            async with self.db.use() as session:
                found = await tokens.authenticate(
                    session,
                    self.token,
                    touch_interval=timedelta(seconds=self.settings.token_touch_interval_seconds),
                )
            if found is None:
                return
            self.principal_or_none, stale = found
            if stale:
                # A write: in a write transaction, so concurrent requests with one token
                # take SQLite's write lock in turn instead of failing to upgrade a read.
                async with self.db.write() as session:
                    await tokens.touch(session, self.principal_or_none.token_id)
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
        if self._loaders is None:
            from gql.loaders import Loaders

            self._loaders = Loaders(self.db, self.team_id)
        return self._loaders
