"""The outbox: entries numbered per team in commit order, only for committed transactions."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_session_factory
from db.events import outbox
from db.models import AuditEntry, Task, TaskCreate, WorkerCreate, WorkerType
from db.seed import seed_tasks
from db.services.caller import Caller
from db.services.tasks import tasks
from db.services.workers import workers
from tests.factories import Member

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]


async def numbers(engine: AsyncEngine, team_id: int) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(AUDIT.c.seq).where(AUDIT.c.team_id == team_id).order_by(AUDIT.c.seq)
        )
        return [row.seq for row in rows]


async def test_only_committed_transactions_make_entries(
    engine: AsyncEngine, member: Member
) -> None:
    caller = Caller(member.team_id, member.worker_id)
    factory = create_session_factory(engine)
    async with factory() as session:
        await tasks.create(session, caller, TaskCreate(title="rolled back"))
        await session.rollback()
    async with factory() as session, session.begin(), session.begin_nested() as savepoint:
        await tasks.create(session, caller, TaskCreate(title="savepoint undone"))
        await savepoint.rollback()
    assert await numbers(engine, member.team_id) == []
    async with factory() as session, session.begin():
        await tasks.create(session, caller, TaskCreate(title="one"))
        await tasks.create(session, caller, TaskCreate(title="two"))
    async with factory() as session:
        entries = await outbox.read(session, member.team_id, 0, 10)
        assert await outbox.head(session, member.team_id) == 2
        assert await outbox.read(session, member.team_id, 1, 10) == entries[1:]
    assert [e.seq for e in entries] == [1, 2]
    assert [e.entity_type for e in entries] == [Task.__name__] * 2
    assert entries[0].created_at == entries[1].created_at  # stamped together, at the commit


async def test_the_command_line_seed_makes_entries_too(engine: AsyncEngine, member: Member) -> None:
    factory = create_session_factory(engine)
    async with factory() as session, session.begin():
        await workers.create(
            session,
            Caller(member.team_id),
            WorkerCreate(handle="@bulk", name="Bulk", type=WorkerType.HUMAN),
        )
    async with factory() as session, session.begin():
        await seed_tasks(session, member.team_id, 30, assignments_per_task=1, batch_size=7)
    seqs = await numbers(engine, member.team_id)
    # A task and an assignment each, numbered without gaps; nobody acted, an operator did.
    assert seqs == list(range(1, 61))
    async with factory() as session:
        entries = await outbox.read(session, member.team_id, 0, 100)
    assert {e.actor_id for e in entries} == {None}
