"""Small keyword-only factories that write through the services, as the app does."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_session_factory
from db.models import TeamCreate, WorkerCreate, WorkerType
from db.services import tokens
from db.services.caller import Caller
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
            session, Caller(team.id), WorkerCreate(handle=handle, name="Tester", type=type)
        )
        assert worker.id is not None
        issued = await tokens.issue(session, team_id=team.id, worker_id=worker.id)
    return Member(team.id, slug, worker.id, worker.handle, issued.id, issued.secret)


async def add_project(engine: AsyncEngine, member: Member, *, slug: str, name: str = "") -> int:
    from db.models import Project

    async with create_session_factory(engine)() as session, session.begin():
        project = Project(team_id=member.team_id, slug=slug, name=name or slug.title())
        session.add(project)
        await session.flush()
        assert project.id is not None
        return project.id


async def add_worker(
    engine: AsyncEngine, member: Member, *, handle: str, type: WorkerType = WorkerType.HUMAN
) -> int:
    async with create_session_factory(engine)() as session, session.begin():
        worker = await workers.create(
            session,
            Caller(member.team_id),
            WorkerCreate(handle=handle, name=handle[1:].title(), type=type),
        )
        assert worker.id is not None
        return worker.id


async def add_task(engine: AsyncEngine, member: Member, **fields: Any) -> int:
    """A task row; `assignees` maps worker ids to roles."""
    from db.models import Task, TaskAssignment

    assignees: dict[int, Any] = dict(fields.pop("assignees", None) or {})
    fields.setdefault("title", "a task")
    async with create_session_factory(engine)() as session, session.begin():
        task = Task(team_id=member.team_id, **fields)
        session.add(task)
        await session.flush()
        assert task.id is not None
        for worker_id, role in assignees.items():
            session.add(
                TaskAssignment(
                    team_id=member.team_id, task_id=task.id, worker_id=worker_id, role=role
                )
            )
        return task.id
