"""The audit trail: one entry per change, added in the transaction of the change.

Entries speak the API's vocabulary: `entity_type` is the GraphQL type name and
`changes` maps GraphQL field names to [before, after] in their JSON form.
"""

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditAction
from db.services.catalog import AUDIT

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


async def record(
    session: AsyncSession,
    *,
    team_id: int,
    actor_id: int | None,
    action: AuditAction,
    entity_type: str,
    entries: Iterable[tuple[str, Changes]],
) -> int:
    """Add one entry per (entity id, changes), in one statement. Returns how many."""
    rows = [
        {
            "team_id": team_id,
            "actor_id": actor_id,
            "action": action,
            "entity_type": entity_type,
            "entity_id": str(entity_id),
            "changes": changes,
        }
        for entity_id, changes in entries
    ]
    if rows:
        await session.execute(sa.insert(AUDIT), rows)
    return len(rows)
