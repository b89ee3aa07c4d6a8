"""Small keyword-only factories that write through the services, as the app does."""

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_session_factory
from db.models import TeamCreate, WorkerCreate, WorkerType
from db.services import tokens
from db.services.teams import teams
from db.services.workers import workers


@dataclass(frozen=True)
class Member:
    team_id: int
    team_slug: str
    worker_id: int
    handle: str
    token_id: int
    token: str


async def make_member(
    engine: AsyncEngine, *, handle: str = "@tester", type: WorkerType = WorkerType.HUMAN
) -> Member:
    slug = f"team-{uuid.uuid4().hex[:10]}"
    async with create_session_factory(engine)() as session, session.begin():
        team = await teams.create(session, TeamCreate(slug=slug, name=f"Team {slug}"))
        assert team.id is not None
        worker = await workers.create(
            session, team.id, WorkerCreate(handle=handle, name="Tester", type=type)
        )
        assert worker.id is not None
        issued = await tokens.issue(session, team_id=team.id, worker_id=worker.id)
    return Member(team.id, slug, worker.id, worker.handle, issued.id, issued.secret)
