"""Projects: their reads and writes; deleting one deletes its tasks, and the audit log says so."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import Conflict
from db.models import AuditAction, Project, ProjectCreate, ProjectUpdate, Task
from db.models.project import ProjectBase
from db.services import audit
from db.services.audit import Entry
from db.services.base import ServiceBase
from db.services.caller import Caller
from db.services.catalog import PROJECT, PROJECTS, TASK
from db.services.row_reads import ScopedReads
from db.services.tasks import deleted_entry

# What a project's audit entries record: every field a client writes, in the model's order.
PROJECT_FIELDS = tuple(ProjectBase.model_fields)


def _values(project: Any) -> dict[str, Any]:
    return {name: getattr(project, name) for name in PROJECT_FIELDS}


class ProjectService(ServiceBase[Project, ProjectCreate, ProjectUpdate], ScopedReads):
    model = Project
    entity_name = "Project"
    entity = PROJECTS
    conflict_message = "slug: a project with this slug already exists in the team"

    async def create(self, session: AsyncSession, caller: Caller, data: ProjectCreate) -> Project:
        await self._require_free_slug(session, caller.team_id, data.slug)
        project = await self._insert(session, Project(team_id=caller.team_id, **data.model_dump()))
        audit.record(
            session,
            caller,
            AuditAction.CREATE,
            Project,
            [Entry(project.id, audit.created(_values(project)))],
        )
        return project

    async def update(
        self,
        session: AsyncSession,
        caller: Caller,
        project_id: int,
        changes: dict[str, Any],
    ) -> Project:
        team_id = caller.team_id
        project = await self.get_locked(session, team_id, project_id)
        diff = audit.updated(_values(project), changes)
        if not diff:
            return project
        if "slug" in changes and changes["slug"] != project.slug:
            await self._require_free_slug(session, team_id, changes["slug"])
        await self._apply(session, project, changes)
        audit.record(session, caller, AuditAction.UPDATE, Project, [Entry(project_id, diff)])
        return project

    async def delete(self, session: AsyncSession, caller: Caller, project_id: int) -> None:
        """Delete the project and every task in it; each gets a DELETE audit entry."""
        project = await self.get_locked(session, caller.team_id, project_id)
        tasks = (
            await session.execute(sa.select(TASK).where(TASK.c.project_id == project_id))
        ).all()
        audit.record(
            session, caller, AuditAction.DELETE, Task, [deleted_entry(row) for row in tasks]
        )
        audit.record(
            session,
            caller,
            AuditAction.DELETE,
            Project,
            [Entry(project_id, audit.deleted(_values(project)))],
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
