"""The audit trail: one entry per change, added in the transaction of the change.

Entries are written as the last step of the transaction, numbered in commit order: they are
also the outbox that task events are read from (db/events/outbox.py).
Entries speak the API's vocabulary: `entity_type` is the GraphQL type name and
`changes` maps GraphQL field names to [before, after] in their JSON form.
"""

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from db.events import outbox
from db.models import AuditAction
from db.services.caller import Caller
from db.services.catalog import AUDIT_ENTRIES
from db.services.row_reads import ScopedReads

Changes = dict[str, list[Any]]


def json_value(name: str, value: Any) -> Any:
    """A value as the API shows it: ids as strings, enums by name, datetimes in ISO 8601."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if name == "id" or name.endswith("_id"):
        return str(value)
    return value


def api_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def created(values: Mapping[str, Any]) -> Changes:
    return {api_name(k): [None, json_value(k, v)] for k, v in values.items()}


def deleted(values: Mapping[str, Any]) -> Changes:
    return {api_name(k): [json_value(k, v), None] for k, v in values.items()}


def updated(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """Only the fields whose value changed."""
    return {
        api_name(k): [json_value(k, before[k]), json_value(k, v)]
        for k, v in after.items()
        if before[k] != v
    }


@dataclass(frozen=True)
class Entry:
    """One audited change of one entity; project_id is that of the task it is about."""

    entity_id: object
    changes: Changes
    project_id: int | None = None


def record(
    session: AsyncSession,
    caller: Caller,
    action: AuditAction,
    entity: type[SQLModel],
    entries: Iterable[Entry],
) -> int:
    """Add one entry per change to the transaction's outbox. Returns how many.

    The entity's type name is its model's: the models carry the GraphQL type names.
    """
    rows = [
        {
            "team_id": caller.team_id,
            "actor_id": caller.worker_id,
            "action": action,
            "entity_type": entity.__name__,
            "entity_id": str(entry.entity_id),
            "project_id": entry.project_id,
            "changes": entry.changes,
        }
        for entry in entries
    ]
    if rows:
        outbox.add(session, rows)
    return len(rows)


class AuditLog(ScopedReads):
    """Reading the trail back: the team's entries, filtered and paged."""

    entity = AUDIT_ENTRIES


audit_log = AuditLog()
