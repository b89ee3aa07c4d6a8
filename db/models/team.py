"""Team: the tenant. Every other row belongs to exactly one team."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.models.base import CreatedAtMixin, IdMixin

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class TeamBase(SQLModel):
    name: str = Field(min_length=1, max_length=100)
    slug: str = Field(
        min_length=1, max_length=64, schema_extra={"pattern": SLUG_PATTERN}, unique=True
    )


class Team(IdMixin, CreatedAtMixin, TeamBase, table=True):
    """A tenant; created from the command line, never through GraphQL."""

    # The last event sequence number handed out (db/outbox.py). Its row lock, taken as the
    # last step of a write transaction, orders the team's events by commit.
    event_seq: int = Field(
        default=0, sa_type=sa.BigInteger, sa_column_kwargs={"server_default": "0"}
    )


class TeamCreate(TeamBase):
    pass


class TeamUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)


class TeamRead(TeamBase):
    id: int
    created_at: datetime
