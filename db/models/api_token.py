"""ApiToken: how a worker authenticates. Only a hash of the secret is stored."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.models.base import CreatedAtMixin, IdMixin, TeamScopedMixin


class ApiTokenBase(SQLModel):
    label: str | None = Field(default=None, max_length=100)


class ApiToken(IdMixin, CreatedAtMixin, TeamScopedMixin, ApiTokenBase, table=True):
    __tablename__ = "api_token"
    __table_args__ = (
        sa.Index("ix_api_token_worker_id", "worker_id"),
        sa.Index("ix_api_token_team_id", "team_id"),
    )

    worker_id: int = Field(foreign_key="worker.id", ondelete="CASCADE", nullable=False)
    # SHA-256 of the secret, hex. The secret has 256 random bits, so a fast hash
    # is enough and lets one indexed lookup find the token.
    token_hash: str = Field(max_length=64, unique=True, nullable=False)
    last_used_at: datetime | None = Field(default=None)
    revoked_at: datetime | None = Field(default=None)


class ApiTokenCreate(ApiTokenBase):
    worker_id: int


class ApiTokenRead(ApiTokenBase):
    id: int
    team_id: int
    worker_id: int
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
