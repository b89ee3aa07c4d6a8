"""API tokens: random secrets shown once, stored as a hash, revocable."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import NotFound
from db.models import ApiToken, utcnow
from db.services.caller import Caller

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


async def revoke(session: AsyncSession, token_id: int) -> None:
    row = await session.get(ApiToken, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()


async def authenticate(
    session: AsyncSession, secret: str, *, touch_interval: timedelta
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
    return Principal(token_id=row.id, worker_id=row.worker_id, team_id=row.team_id), stale


async def touch(session: AsyncSession, token_id: int) -> None:
    """Record that the token was just used."""
    await session.execute(
        update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=utcnow())
    )
