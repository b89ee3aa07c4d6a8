"""Row and tree locks that keep concurrent writers from breaking invariants."""

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

# An arbitrary constant naming taskql's "task tree of a team" advisory locks.
_TREE_LOCK_SPACE = 0x7A51


async def lock_task_tree(session: AsyncSession, team_id: int) -> None:
    """Serialize re-parenting within a team until the transaction ends.

    Two concurrent moves (A under B, B under A) each pass a cycle check that cannot
    see the other's uncommitted change; taken in turn, the second sees the first.
    SQLite needs nothing: its write transactions already run one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(sa.select(sa.func.pg_advisory_xact_lock(_TREE_LOCK_SPACE, team_id)))
