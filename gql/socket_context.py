"""The context of one WebSocket: the caller, checked at connection_init and again while it lasts.

Built once per socket (at the upgrade) and shared by its operations: it holds no session
and no loaders. Events are resolved with those of their own scope (gql/event_scope.py).
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from db.events.service import Events
from db.services import tokens
from db.services.tokens import Principal
from db.settings import Settings
from gql import event_scope
from gql.errors import Unauthenticated

if TYPE_CHECKING:
    from gql.loaders import Loaders

log = logging.getLogger("taskql")

# Revoked tokens close their sockets with the code a refused connection_init gets.
FORBIDDEN_CLOSE = 4403
# The re-check only asks whether the token is live; it never writes last_used_at.
_NO_TOUCH = timedelta(days=36_500)


@dataclass
class SocketContext(BaseContext):
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    events: Events
    websocket: WebSocket
    header_token: str | None
    principal_or_none: Principal | None = None
    _watch: asyncio.Task[None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        super().__init__()

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise Unauthenticated("a valid API token is required")
        return self.principal_or_none

    @property
    def team_id(self) -> int:
        return self.principal.team_id

    @property
    def loaders(self) -> "Loaders":
        return event_scope.current().loaders

    def token(self) -> str | None:
        """From the connection_init payload (as GraphiQL and graphql-ws send it), else the
        upgrade request's header."""
        params: Any = self.connection_params
        if isinstance(params, dict):
            for key, value in params.items():
                if isinstance(key, str) and key.lower() == "authorization":
                    return bearer_value(value)
        return self.header_token

    async def authenticate(self) -> bool:
        """Whether the socket's token is live; if so, start re-checking it."""
        token = self.token()
        if token is None:
            return False
        self.principal_or_none = await self._lookup(token)
        if self.principal_or_none is None:
            return False
        self._watch = asyncio.get_running_loop().create_task(self._watch_token(token))
        return True

    async def _lookup(self, token: str) -> Principal | None:
        async with self.session_factory() as session:
            found = await tokens.authenticate(session, token, touch_interval=_NO_TOUCH)
        return None if found is None else found[0]

    async def _watch_token(self, token: str) -> None:
        interval = self.settings.ws_auth_recheck_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                live = await self._lookup(token) is not None
            except Exception:  # the database is away: the token stands until it answers
                log.warning("re-checking a socket's token failed", exc_info=True)
                continue
            if not live:
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=FORBIDDEN_CLOSE, reason="Forbidden")
                return

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch


def bearer_value(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
