"""The outbox: audit entries, numbered per team in commit order.

Audit ids are not commit order on PostgreSQL (a slow writer takes an id first and commits
last), so a reader following ids would skip entries. Instead the entries of a transaction are
held back and written as its last step, each with the next number of its team's counter
(`team.event_seq`). The counter's row lock is held from then until the commit, so numbers are
handed out in commit order, without gaps, and a reader that has seen N has seen everything
before N. Concurrent writers wait for each other only when they write to the same team, and
only for the last statements of their transactions.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from db.models import AuditAction, AuditEntry, Team, utcnow

AUDIT: sa.Table = AuditEntry.__table__  # type: ignore[attr-defined]
TEAM: sa.Table = Team.__table__  # type: ignore[attr-defined]

_PENDING = "taskql_outbox_pending"
_COMMITTED = "taskql_outbox_committed"
_MARKS = "taskql_outbox_savepoints"

CommitListener = Callable[[frozenset[int]], None]
_listeners: list[CommitListener] = []


def add(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Entries to write when the session's transaction commits (and to drop if it does not)."""
    session.sync_session.info.setdefault(_PENDING, []).extend(rows)


def on_commit(listener: CommitListener) -> Callable[[], None]:
    """Call listener(team ids) after every commit that wrote entries; returns the undo.

    Listeners run inside the commit, on the event loop: they must only schedule work.
    """
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


async def write_now(session: AsyncSession) -> None:
    """Write the pending entries now instead of at the commit: for bulk loads, which would
    otherwise hold every entry in memory. The team's counter stays locked from here on."""
    await session.run_sync(_write_pending)


@event.listens_for(Session, "before_commit")
def _stamp(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint: the entries go out with the outermost commit
    _write_pending(session)


def _write_pending(session: Session) -> None:
    pending: list[dict[str, Any]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    by_team: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in pending:
        by_team[row["team_id"]].append(row)
    now = utcnow()
    # Teams in id order: two transactions writing to the same two teams cannot deadlock.
    for team_id in sorted(by_team):
        rows = by_team[team_id]
        last = session.execute(
            sa.update(TEAM)
            .where(TEAM.c.id == team_id)
            .values(event_seq=TEAM.c.event_seq + len(rows))
            .returning(TEAM.c.event_seq)
        ).scalar_one()
        for seq, row in enumerate(rows, start=last - len(rows) + 1):
            # Stamped now, at the end of the transaction: as close to its commit as it gets.
            row["seq"], row["created_at"] = seq, now
        session.execute(sa.insert(AUDIT), rows)
    session.info[_COMMITTED] = session.info.get(_COMMITTED, frozenset()) | set(by_team)


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    teams = session.info.pop(_COMMITTED, None)
    if teams:
        for listener in list(_listeners):
            listener(teams)


@event.listens_for(Session, "after_transaction_create")
def _mark(session: Session, transaction: SessionTransaction) -> None:
    # Where a savepoint began in the pending entries: rolled back, it takes its own with it.
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, {})
        marks[id(transaction)] = len(session.info.get(_PENDING, []))


@event.listens_for(Session, "after_soft_rollback")
def _undo(session: Session, previous_transaction: SessionTransaction) -> None:
    mark = session.info.get(_MARKS, {}).pop(id(previous_transaction), None)
    if previous_transaction.nested and mark is not None and _PENDING in session.info:
        del session.info[_PENDING][mark:]


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # A rollback (or a close without commit): the entries never happened.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_COMMITTED, None)
        session.info.pop(_MARKS, None)


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    team_id: int
    action: AuditAction
    entity_type: str
    entity_id: str
    actor_id: int | None
    project_id: int | None
    changes: dict[str, Any]
    created_at: datetime


_COLUMNS = [AUDIT.c[name] for name in OutboxEntry.__dataclass_fields__]


async def read(session: AsyncSession, team_id: int, after: int, limit: int) -> list[OutboxEntry]:
    """The team's entries numbered after `after`, oldest first (the (team_id, seq) index)."""
    stmt = (
        sa.select(*_COLUMNS)
        .where(AUDIT.c.team_id == team_id, AUDIT.c.seq > after)
        .order_by(AUDIT.c.seq)
        .limit(limit)
    )
    return [OutboxEntry(**row._mapping) for row in (await session.execute(stmt)).all()]


async def head(session: AsyncSession, team_id: int) -> int:
    """The team's last committed number (0 before its first entry)."""
    stmt = sa.select(TEAM.c.event_seq).where(TEAM.c.id == team_id)
    return int((await session.execute(stmt)).scalar_one_or_none() or 0)
