"""TaskAssignment: which worker works on which task, and in what role."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.models.base import TeamScopedMixin, str_enum, utcnow
from db.models.enums import AssignmentRole


class TaskAssignmentBase(SQLModel):
    task_id: int = Field(foreign_key="task.id", ondelete="CASCADE", primary_key=True)
    worker_id: int = Field(foreign_key="worker.id", ondelete="CASCADE", primary_key=True)
    role: AssignmentRole = Field(
        default=AssignmentRole.ASSIGNEE, sa_type=str_enum(AssignmentRole, "assignment_role")
    )


class TaskAssignment(TeamScopedMixin, TaskAssignmentBase, table=True):
    """One row per (task, worker): the composite primary key is the uniqueness rule."""

    __tablename__ = "task_assignment"
    __table_args__ = (
        sa.Index("ix_task_assignment_worker_id", "worker_id", "task_id"),
        sa.Index("ix_task_assignment_team_id", "team_id"),
    )

    assigned_at: datetime = Field(default_factory=utcnow, nullable=False)


class TaskAssignmentCreate(TaskAssignmentBase):
    pass


class TaskAssignmentRead(TaskAssignmentBase):
    team_id: int
    assigned_at: datetime
