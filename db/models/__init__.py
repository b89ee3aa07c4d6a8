"""All models, imported here so that SQLModel.metadata (and Alembic) sees every table."""

from db.models.api_token import ApiToken, ApiTokenCreate, ApiTokenRead
from db.models.assignment import TaskAssignment, TaskAssignmentCreate, TaskAssignmentRead
from db.models.audit import AuditEntry, AuditEntryCreate, AuditEntryRead
from db.models.base import utcnow
from db.models.enums import AssignmentRole, AuditAction, TaskPriority, TaskStatus, WorkerType
from db.models.project import Project, ProjectCreate, ProjectRead, ProjectUpdate
from db.models.task import Task, TaskCreate, TaskRead, TaskUpdate
from db.models.team import Team, TeamCreate, TeamRead, TeamUpdate
from db.models.worker import Worker, WorkerCreate, WorkerRead, WorkerUpdate

__all__ = [
    "ApiToken",
    "ApiTokenCreate",
    "ApiTokenRead",
    "AssignmentRole",
    "AuditAction",
    "AuditEntry",
    "AuditEntryCreate",
    "AuditEntryRead",
    "Project",
    "ProjectCreate",
    "ProjectRead",
    "ProjectUpdate",
    "Task",
    "TaskAssignment",
    "TaskAssignmentCreate",
    "TaskAssignmentRead",
    "TaskCreate",
    "TaskPriority",
    "TaskRead",
    "TaskStatus",
    "TaskUpdate",
    "Team",
    "TeamCreate",
    "TeamRead",
    "TeamUpdate",
    "Worker",
    "WorkerCreate",
    "WorkerRead",
    "WorkerType",
    "WorkerUpdate",
    "utcnow",
]
