"""The per-request context: one session (access serialized), the caller, the loaders."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext

from db.services.tokens import Principal
from db.settings import Settings
from gql.errors import Unauthenticated

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

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
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
    principal_or_none: Principal | None
    loaders: "Loaders" = field(repr=False)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise Unauthenticated(
                "a valid API token is required: send 'Authorization: Bearer <token>'"
            )
        return self.principal_or_none

    @property
    def team_id(self) -> int:
        return self.principal.team_id
