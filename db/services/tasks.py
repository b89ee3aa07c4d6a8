"""Tasks: their reads (pages, pages under a parent, lookups) and their writes: placement in the
team's trees, partial updates, deletes, each audited."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import Invalid, NotFound
from db.models import AssignmentRole, AuditAction, Project, Task, TaskCreate
from db.models.task import TaskBase
from db.services import assignments, audit, row_reads, trees
from db.services.audit import Entry
from db.services.base import ServiceBase
from db.services.caller import Caller
from db.services.catalog import ASSIGNMENT, TASK, TASKS
from db.services.filters import Tree
from db.services.locks import lock_task_tree
from db.services.pagination import Page, SortKey, Window
from db.services.row_reads import Partition, ScopedReads

# What a task's audit entries record: every field a client writes, in the model's order.
TASK_FIELDS = tuple(TaskBase.model_fields)


def snapshot(task: Any) -> dict[str, Any]:
    return {name: getattr(task, name) for name in TASK_FIELDS}


def created_entry(task: Any) -> Entry:
    """A new task's CREATE entry: its first values."""
    return Entry(task.id, audit.created(snapshot(task)), task.project_id)


def deleted_entry(task: Any) -> Entry:
    """A task's DELETE entry: its last values, in the project it was in."""
    return Entry(task.id, audit.deleted(snapshot(task)), task.project_id)


# The parents a page of tasks hangs off (Project.tasks, Task.subtasks, Worker.tasks), and how.
TaskParent = Literal["project", "parent", "worker"]
_UNDER: dict[TaskParent, Partition] = {
    "project": Partition(TASK.c.project_id),
    "parent": Partition(TASK.c.parent_id),
    "worker": Partition(
        ASSIGNMENT.c.worker_id, TASK.join(ASSIGNMENT, ASSIGNMENT.c.task_id == TASK.c.id), ASSIGNMENT
    ),
}


class TaskService(ServiceBase[Task, TaskCreate, Any], ScopedReads):
    model = Task
    entity_name = "Task"
    entity = TASKS

    async def pages_under(
        self,
        session: AsyncSession,
        team_id: int,
        parent: TaskParent,
        parent_ids: Sequence[int],
        where: Tree | None,
        keys: Sequence[SortKey],
        win: Window,
    ) -> dict[int, Page]:
        """The first page of tasks under each parent, in one statement."""
        return await row_reads.child_pages(
            session, TASKS, team_id, _UNDER[parent], parent_ids, where, keys, win
        )

    async def counts_under(
        self,
        session: AsyncSession,
        team_id: int,
        parent: TaskParent,
        parent_ids: Sequence[int],
        where: Tree | None,
    ) -> Mapping[int, int]:
        return await row_reads.child_counts(
            session, TASKS, team_id, _UNDER[parent], parent_ids, where
        )

    async def create(
        self,
        session: AsyncSession,
        caller: Caller,
        data: TaskCreate,
        assignee_ids: Sequence[int] = (),
    ) -> Task:
        team_id = caller.team_id
        values = data.model_dump()
        if data.parent_id is not None:
            parent = await self._parent(session, team_id, data.parent_id)
            if "project_id" in data.model_fields_set and data.project_id != parent.project_id:
                raise Invalid(
                    "projectId: a subtask lives in its parent's project; leave it out or "
                    f"pass {parent.project_id}",
                    field="projectId",
                )
            values["project_id"] = parent.project_id
        elif data.project_id is not None:
            await self._require_project(session, team_id, data.project_id)
        task = await self._insert(session, Task(team_id=team_id, **values))
        assert task.id is not None
        audit.record(
            session,
            caller,
            AuditAction.CREATE,
            Task,
            [created_entry(task)],
        )
        if assignee_ids:
            await assignments.assign(
                session, caller, task.id, assignee_ids, AssignmentRole.ASSIGNEE
            )
        return task

    async def update(
        self,
        session: AsyncSession,
        caller: Caller,
        task_id: int,
        changes: dict[str, Any],
    ) -> Task:
        """Apply the fields given; a subtask follows its parent's project, and so do
        the subtasks of a task that changes project."""
        team_id = caller.team_id
        if changes.get("parent_id") is not None:
            # Before any row lock: a re-parent's FK check takes a share lock on the new
            # parent, which a concurrent re-parent may hold while it waits for this lock.
            await lock_task_tree(session, team_id)
        task = await self.get_locked(session, team_id, task_id)
        changes = dict(changes)
        if "parent_id" in changes or "project_id" in changes:
            changes["project_id"] = await self._placement(session, team_id, task, changes)
        before = snapshot(task)
        diff = audit.updated(before, {k: changes[k] for k in TASK_FIELDS if k in changes})
        if not diff:
            return task
        await self._apply(session, task, changes)
        audit.record(
            session, caller, AuditAction.UPDATE, Task, [Entry(task_id, diff, task.project_id)]
        )
        if before["project_id"] != task.project_id:
            await self._move_subtree(session, caller, task_id, task.project_id)
        return task

    async def delete(self, session: AsyncSession, caller: Caller, task_id: int) -> list[int]:
        """Delete the task and its subtasks (their assignments go with them).

        Every deleted task gets a DELETE entry holding its last values. Returns the
        ids deleted, the task's first.
        """
        task = await self.get_locked(session, caller.team_id, task_id)
        below = (await trees.descendants(session, caller.team_id, [task_id], None))[task_id]
        doomed = [task, *below]
        audit.record(
            session, caller, AuditAction.DELETE, Task, [deleted_entry(row) for row in doomed]
        )
        await session.execute(sa.delete(TASK).where(TASK.c.id == task_id))
        session.expunge(task)
        return [row.id for row in doomed]

    # -- placement ----------------------------------------------------------------------

    async def _parent(self, session: AsyncSession, team_id: int, parent_id: int) -> Task:
        parent = await self.get(session, team_id, parent_id)
        if parent is None:
            raise NotFound(f"parentId: Task {parent_id} not found", field="parentId")
        return parent

    async def _require_project(self, session: AsyncSession, team_id: int, project_id: int) -> None:
        stmt = select(col(Project.id)).where(
            col(Project.id) == project_id, col(Project.team_id) == team_id
        )
        if (await session.execute(stmt)).first() is None:
            raise NotFound(f"projectId: Project {project_id} not found", field="projectId")

    async def _placement(
        self, session: AsyncSession, team_id: int, task: Task, changes: dict[str, Any]
    ) -> int | None:
        """The project the task ends up in, after checking the new parent and project."""
        assert task.id is not None
        parent_id = changes.get("parent_id", task.parent_id)
        if parent_id is None:
            project_id = changes.get("project_id", task.project_id)
            if "project_id" in changes and project_id is not None:
                await self._require_project(session, team_id, project_id)
            return project_id
        if "parent_id" in changes:
            parent = await self._parent(session, team_id, parent_id)
            if await trees.is_descendant_or_self(session, team_id, task.id, parent_id):
                raise Invalid(
                    "parentId: a task cannot move under itself or one of its subtasks",
                    field="parentId",
                )
        else:
            parent = await self._parent(session, team_id, parent_id)
        if "project_id" in changes and changes["project_id"] != parent.project_id:
            raise Invalid(
                "projectId: a subtask lives in its parent's project; move the parent, "
                "or re-parent the task",
                field="projectId",
            )
        return parent.project_id

    async def _move_subtree(
        self,
        session: AsyncSession,
        caller: Caller,
        task_id: int,
        project_id: int | None,
    ) -> None:
        """Every subtask below follows the task into its new project, each audited."""
        below = (await trees.descendants(session, caller.team_id, [task_id], None))[task_id]
        if not below:
            return
        ids = [row.id for row in below]
        await session.execute(
            sa.update(TASK).where(TASK.c.id.in_(ids)).values(project_id=project_id)
        )
        audit.record(
            session,
            caller,
            AuditAction.UPDATE,
            Task,
            [
                Entry(
                    row.id,
                    audit.updated({"project_id": row.project_id}, {"project_id": project_id}),
                    project_id,
                )
                for row in below
            ],
        )


tasks = TaskService()
