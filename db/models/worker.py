"""Worker: a person or an agent of a team."""

from datetime import datetime

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from db.models.base import CreatedAtMixin, IdMixin, TeamScopedMixin, not_null, str_enum
from db.models.enums import WorkerType

HANDLE_PATTERN = r"^@[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


def normalize_handle(handle: str) -> str:
    """`alice` and `@alice` name the same worker; the stored form has the `@`."""
    handle = handle.strip()
    return handle if handle.startswith("@") else f"@{handle}"


class WorkerBase(SQLModel):
    handle: str = Field(max_length=64, schema_extra={"pattern": HANDLE_PATTERN})
    name: str = Field(min_length=1, max_length=100)
    type: WorkerType = Field(sa_type=str_enum(WorkerType, "worker_type"))

    @field_validator("handle", mode="before")
    @classmethod
    def _normalize_handle(cls, value: object) -> object:
        return normalize_handle(value) if isinstance(value, str) else value


class Worker(IdMixin, CreatedAtMixin, TeamScopedMixin, WorkerBase, table=True):
    __table_args__ = (
        sa.UniqueConstraint("team_id", "handle"),
        sa.CheckConstraint("handle LIKE '@%'", name="handle_at"),
        sa.Index("ix_worker_team_id_id", "team_id", "id"),
    )


class WorkerCreate(WorkerBase):
    pass


class WorkerUpdate(SQLModel):
    handle: str | None = Field(
        default=None, max_length=64, schema_extra={"pattern": HANDLE_PATTERN}
    )
    name: str | None = Field(default=None, min_length=1, max_length=100)
    type: WorkerType | None = None

    _required = field_validator("handle", "name", "type", mode="before")(not_null)

    @field_validator("handle", mode="before")
    @classmethod
    def _normalize_handle(cls, value: object) -> object:
        return normalize_handle(value) if isinstance(value, str) else value


class WorkerRead(WorkerBase):
    id: int
    team_id: int
    created_at: datetime
