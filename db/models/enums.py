"""Enumerations of the domain. Member names are the GraphQL enum values."""

import enum


class WorkerType(enum.StrEnum):
    HUMAN = "human"
    AGENT = "agent"


class TaskStatus(enum.StrEnum):
    # Declaration order is workflow order: it is the stored rank, so sorting by
    # status follows the workflow instead of the alphabet.
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskPriority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AssignmentRole(enum.StrEnum):
    ASSIGNEE = "assignee"
    REVIEWER = "reviewer"


class AuditAction(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
