"""Migrations and models agree, and upgrade/downgrade run on both databases."""

from pathlib import Path

import pytest
from sqlalchemy import inspect

from db import migrate
from db.engine import create_engine
from tests.conftest import settings_for
from tests.databases import fresh_database

TABLES = {"team", "worker", "api_token", "project", "task", "task_assignment", "audit_entry"}


async def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_check_downgrade_upgrade(dialect: str, tmp_path: Path) -> None:
    if dialect == "pgbouncer":
        pytest.skip(
            "about the schema, not the connection path; migrating through the pooler is"
            " what serve does in tests/test_replicas.py"
        )
    async with fresh_database(dialect, tmp_path) as db:
        engine = create_engine(settings_for(db.url), for_migrations=True, poolless=True)
        try:
            assert await migrate.pending_revisions(engine)
            await migrate.upgrade(engine)
            assert await _tables(engine) >= TABLES
            assert await migrate.pending_revisions(engine) == []
            await migrate.check(engine)  # raises when models and migrations disagree

            await migrate.downgrade(engine, "base")
            assert await _tables(engine) <= {"alembic_version"}

            await migrate.upgrade(engine)
            await migrate.check(engine)
        finally:
            await engine.dispose()


def test_every_revision_has_a_downgrade() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    revisions = list(script.walk_revisions())
    assert revisions, "no migrations found"
    for revision in revisions:
        source = Path(revision.path).read_text()
        assert "def downgrade() -> None:\n    pass" not in source, revision.revision


def test_single_head() -> None:
    from alembic.script import ScriptDirectory

    assert len(ScriptDirectory.from_config(migrate.alembic_config()).get_heads()) == 1
