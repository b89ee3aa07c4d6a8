"""Project: a named body of work of a team; has many tasks."""

from datetime import datetime

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from db.models.base import IdMixin, TeamScopedMixin, TimestampsMixin, not_null
from db.models.team import SLUG_PATTERN


class ProjectBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=1, max_length=64, schema_extra={"pattern": SLUG_PATTERN})
    description: str | None = Field(default=None, max_length=10_000)


class Project(IdMixin, TimestampsMixin, TeamScopedMixin, ProjectBase, table=True):
    __table_args__ = (
        sa.UniqueConstraint("team_id", "slug"),
        sa.CheckConstraint("length(name) >= 1", name="name_not_empty"),
        sa.Index("ix_project_team_id_id", "team_id", "id"),
        sa.Index("ix_project_team_id_created_at", "team_id", "created_at", "id"),
    )


class ProjectCreate(ProjectBase):
    pass


class ProjectUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    slug: str | None = Field(
        default=None, min_length=1, max_length=64, schema_extra={"pattern": SLUG_PATTERN}
    )
    description: str | None = Field(default=None, max_length=10_000)

    _required = field_validator("name", "slug", mode="before")(not_null)


class ProjectRead(ProjectBase):
    id: int
    team_id: int
    created_at: datetime
    updated_at: datetime
