"""Writing projects; deleting one deletes its tasks, and the audit log says so."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import Conflict
from db.models import AuditAction, Project, ProjectCreate, ProjectUpdate
from db.services import audit
from db.services.base import ServiceBase
from db.services.catalog import PROJECT, TASK
from db.services.tasks import snapshot

PROJECT_FIELDS = ("name", "slug", "description")


def _values(project: Any) -> dict[str, Any]:
    return {name: getattr(project, name) for name in PROJECT_FIELDS}


class ProjectService(ServiceBase[Project, ProjectCreate, ProjectUpdate]):
    model = Project
    entity_name = "Project"
    conflict_message = "slug: a project with this slug already exists in the team"

    async def create(
        self, session: AsyncSession, *, team_id: int, actor_id: int, data: ProjectCreate
    ) -> Project:
        await self._require_free_slug(session, team_id, data.slug)
        project = await self._insert(session, Project(team_id=team_id, **data.model_dump()))
        await audit.record(
            session,
            team_id=team_id,
            actor_id=actor_id,
            action=AuditAction.CREATE,
            entity_type="Project",
            entries=[(str(project.id), audit.created(_values(project)))],
        )
        return project

    async def update(
        self,
        session: AsyncSession,
        *,
        team_id: int,
        actor_id: int,
        project_id: int,
        changes: dict[str, Any],
    ) -> Project:
        project = await self.get_locked(session, team_id, project_id)
        diff = audit.updated(_values(project), changes)
        if not diff:
            return project
        if "slug" in changes and changes["slug"] != project.slug:
            await self._require_free_slug(session, team_id, changes["slug"])
        await self._apply(session, project, changes)
        await audit.record(
            session,
            team_id=team_id,
            actor_id=actor_id,
            action=AuditAction.UPDATE,
            entity_type="Project",
            entries=[(str(project_id), diff)],
        )
        return project

    async def delete(
        self, session: AsyncSession, *, team_id: int, actor_id: int, project_id: int
    ) -> None:
        """Delete the project and every task in it; each gets a DELETE audit entry."""
        project = await self.get_locked(session, team_id, project_id)
        tasks = (
            await session.execute(sa.select(TASK).where(TASK.c.project_id == project_id))
        ).all()
        await audit.record(
            session,
            team_id=team_id,
            actor_id=actor_id,
            action=AuditAction.DELETE,
            entity_type="Task",
            entries=[(str(row.id), audit.deleted(snapshot(row))) for row in tasks],
        )
        await audit.record(
            session,
            team_id=team_id,
            actor_id=actor_id,
            action=AuditAction.DELETE,
            entity_type="Project",
            entries=[(str(project_id), audit.deleted(_values(project)))],
        )
        await session.execute(sa.delete(PROJECT).where(PROJECT.c.id == project_id))
        session.expunge(project)

    async def _require_free_slug(self, session: AsyncSession, team_id: int, slug: str) -> None:
        stmt = select(col(Project.id)).where(
            col(Project.team_id) == team_id, col(Project.slug) == slug
        )
        if (await session.execute(stmt)).first() is not None:
            raise Conflict(self.conflict_message, field="slug")


projects = ProjectService()
