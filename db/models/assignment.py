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
        # A worker's tasks within the team, in task order, from the index alone: the page
        # and the count of Worker.tasks read no table rows.
        sa.Index("ix_task_assignment_team_id_worker_id", "team_id", "worker_id", "task_id"),
        # An assignment is in its task's team: held by the database, so that a worker's
        # assignments can be counted as its tasks without reading each task.
        sa.ForeignKeyConstraint(
            ["task_id", "team_id"],
            ["task.id", "task.team_id"],
            name="fk_task_assignment_task_id_team_id_task",
            ondelete="CASCADE",
        ),
    )

    assigned_at: datetime = Field(default_factory=utcnow, nullable=False)


class TaskAssignmentCreate(TaskAssignmentBase):
    pass


class TaskAssignmentRead(TaskAssignmentBase):
    team_id: int
    assigned_at: datetime
