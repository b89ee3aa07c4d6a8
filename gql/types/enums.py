"""Registers the domain enums as GraphQL enums: the value a client sends is the member name.

strawberry.enum decorates the class in place, so types annotate fields with the
domain enums themselves.
"""

import strawberry

from db.models import enums

for _enum, _description in (
    (enums.WorkerType, "Whether a worker is a person or an AI agent."),
    (enums.TaskStatus, "Where a task is in its workflow; sorts in workflow order."),
    (enums.TaskPriority, "How urgent a task is; sorts LOW < MEDIUM < HIGH."),
    (enums.AssignmentRole, "What an assigned worker does on a task."),
    (enums.AuditAction, "What kind of change an audit entry records."),
):
    strawberry.enum(_enum, description=_description)
