"""API tokens: random secrets shown once, stored as a hash, revocable."""

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import NotFound
from db.models import ApiToken, Worker, utcnow
from db.services.caller import Caller

if TYPE_CHECKING:
    from db.session import RequestSession

TOKEN_PREFIX = "tq_"


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: plain values, safe to hold after the session is gone."""

    token_id: int
    worker_id: int
    team_id: int

    @property
    def caller(self) -> Caller:
        return Caller(team_id=self.team_id, worker_id=self.worker_id)


@dataclass(frozen=True)
class IssuedToken:
    id: int
    secret: str


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue(
    session: AsyncSession, *, team_id: int, worker_id: int, label: str | None = None
) -> IssuedToken:
    # 32 random bytes: guessing is hopeless, so a plain SHA-256 suffices as the stored form.
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(team_id=team_id, worker_id=worker_id, label=label, token_hash=hash_token(secret))
    session.add(row)
    await session.flush()
    assert row.id is not None
    return IssuedToken(id=row.id, secret=secret)


@dataclass(frozen=True)
class Revocation:
    revoked_at: datetime
    # True when an earlier revoke already ended the token: nothing changed now.
    already: bool


@dataclass(frozen=True)
class TokenListing:
    """What an operator may see of a token: never its secret, nor its hash."""

    id: int
    worker_handle: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def revoke(session: AsyncSession, token_id: int) -> Revocation:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    recent.forget(token_id)
    if row.revoked_at is not None:
        return Revocation(revoked_at=row.revoked_at, already=True)
    row.revoked_at = utcnow()
    await session.flush()
    return Revocation(revoked_at=row.revoked_at, already=False)


async def list_for_team(session: AsyncSession, team_id: int) -> list[TokenListing]:
    """The team's tokens, oldest first, with the handle of the worker each acts as."""
    stmt = (
        sa.select(  # sqlmodel's select types at most four columns
            col(ApiToken.id),
            col(Worker.handle),
            col(ApiToken.label),
            col(ApiToken.created_at),
            col(ApiToken.last_used_at),
            col(ApiToken.revoked_at),
        )
        .join(Worker, col(Worker.id) == col(ApiToken.worker_id))
        .where(col(ApiToken.team_id) == team_id)
        .order_by(col(ApiToken.id))
    )
    listings = []
    for token_id, handle, label, created_at, last_used_at, revoked_at in (
        await session.execute(stmt)
    ).all():
        assert token_id is not None  # a primary key read back from the table
        listings.append(TokenListing(token_id, handle, label, created_at, last_used_at, revoked_at))
    return listings


async def authenticate(
    session: AsyncSession, secret: str, *, touch_interval: timedelta, remember_for: float = 0
) -> tuple[Principal, bool] | None:
    """The principal of a live token, and whether its last_used_at is due a write.

    The lookup is by hash through a unique index: the secret itself is never
    compared, so timing tells an attacker nothing about stored tokens.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    stmt = select(
        col(ApiToken.id), ApiToken.worker_id, ApiToken.team_id, ApiToken.last_used_at
    ).where(col(ApiToken.token_hash) == hash_token(secret), col(ApiToken.revoked_at).is_(None))
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        return None
    stale = row.last_used_at is None or utcnow() - row.last_used_at >= touch_interval
    principal = Principal(token_id=row.id, worker_id=row.worker_id, team_id=row.team_id)
    # A stale token is remembered as touched: the caller writes last_used_at next.
    recent.remember(secret, principal, utcnow() if stale else row.last_used_at, remember_for)
    return principal, stale


async def touch(session: AsyncSession, token_id: int) -> None:
    """Record that the token was just used, unless a concurrent request is recording it.

    The row lock of the update lasts until the operation commits. Concurrent requests
    with one token all find it due at once; waiting for that lock would make them run
    one after another, each for its whole operation. One record is enough: the others
    skip the locked row (SKIP LOCKED; SQLite's writers take turns anyway).
    """
    unlocked = (
        select(col(ApiToken.id))
        .where(col(ApiToken.id) == token_id)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(
        update(ApiToken).where(col(ApiToken.id) == unlocked).values(last_used_at=utcnow())
    )


async def look_up(
    db: "RequestSession", secret: str, *, touch_interval: timedelta, remember_for: float
) -> Principal | None:
    """A token's principal (None: unknown or revoked), remembered in `recent`, with its
    last_used_at written in the request's write transaction when due."""
    found = await db.run(
        lambda session: authenticate(
            session, secret, touch_interval=touch_interval, remember_for=remember_for
        )
    )
    if found is None:
        recent.forget_secret(secret)
        return None
    principal, stale = found
    if stale:
        # A write: in a write transaction, so concurrent requests with one token take
        # SQLite's write lock in turn instead of failing to upgrade a read.
        async with db.write() as session:
            await touch(session, principal.token_id)
    return principal


@dataclass(frozen=True)
class _Remembered:
    principal: Principal
    expires: float  # time.monotonic()
    refresh_after: float  # time.monotonic(): half-way to expires
    last_used_at: datetime | None


class RecentTokens:
    """Tokens this process found live less than `ttl` seconds ago, by hash.

    A request whose token was looked up a moment ago needs no round trip of its own for it.
    A revocation reaches every process within `ttl` (a revoke in this process at once), and
    a token whose last_used_at is due a write is looked up again, so the write happens.
    Half-way through `ttl` a token is due a refresh (`lookup`): one caller looks it up again
    while the others go on with the remembered principal, so that a busy token never expires
    under all of its concurrent requests at once.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._entries: dict[str, _Remembered] = {}

    def lookup(self, secret: str, *, touch_interval: timedelta) -> tuple[Principal | None, bool]:
        """The remembered principal (None: look the token up), and whether it is due a
        refresh: half its time gone, or its last_used_at due a write within that time."""
        entry = self._entries.get(hash_token(secret))
        now = time.monotonic()
        if entry is None or entry.expires <= now:
            return None, False
        if entry.last_used_at is None:
            return None, False
        since_use = utcnow() - entry.last_used_at
        if since_use >= touch_interval:
            return None, False
        due = now >= entry.refresh_after or since_use >= touch_interval - timedelta(
            seconds=entry.expires - now
        )
        return entry.principal, due

    def remember(
        self, secret: str, principal: Principal, last_used_at: datetime | None, ttl: float
    ) -> None:
        if ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        now = time.monotonic()
        self._entries[hash_token(secret)] = _Remembered(
            principal, now + ttl, now + ttl / 2, last_used_at
        )

    def forget(self, token_id: int) -> None:
        for key in [k for k, v in self._entries.items() if v.principal.token_id == token_id]:
            del self._entries[key]

    def forget_secret(self, secret: str) -> None:
        self._entries.pop(hash_token(secret), None)


recent = RecentTokens()
