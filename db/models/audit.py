"""AuditEntry: one row per change, written in the transaction of the change."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.models.base import CreatedAtMixin, IdMixin, TeamScopedMixin, str_enum
from db.models.enums import AuditAction


class AuditEntryBase(SQLModel):
    action: AuditAction = Field(sa_type=str_enum(AuditAction, "audit_action"))
    # The GraphQL type name of the entity: Task, Project, Worker, TaskAssignment.
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(max_length=64)
    actor_id: int | None = Field(
        default=None, foreign_key="worker.id", ondelete="SET NULL", nullable=True
    )
    # GraphQL field name -> [before, after]
    changes: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # The project of the task the entry is about, when it has one (after the change; before
    # it for a delete), so a project's event stream is read without joining live rows.
    # No foreign key: the entry outlives the project.
    project_id: int | None = Field(default=None, nullable=True)
    # The team's event sequence number, stamped in commit order (db/outbox.py). Null only
    # for entries written before events existed.
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, nullable=True)


class AuditEntry(IdMixin, CreatedAtMixin, TeamScopedMixin, AuditEntryBase, table=True):
    __tablename__ = "audit_entry"
    __table_args__ = (
        sa.Index("ix_audit_entry_team_id_id", "team_id", "id"),
        sa.Index("ix_audit_entry_entity", "team_id", "entity_type", "entity_id"),
        sa.Index("ix_audit_entry_actor_id", "actor_id"),
        sa.Index("ix_audit_entry_team_id_seq", "team_id", "seq", unique=True),
    )


class AuditEntryCreate(AuditEntryBase):
    pass


class AuditEntryRead(AuditEntryBase):
    id: int
    team_id: int
    created_at: datetime
