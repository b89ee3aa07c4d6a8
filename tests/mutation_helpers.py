"""Small helpers for mutation tests: GraphQL documents and audit lookups."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.services.catalog import AUDIT, PROJECT, TASK

CREATE_PROJECT = """mutation ($input: CreateProjectInput!) {
  createProject(input: $input) { id name slug description createdAt updatedAt } }"""
UPDATE_PROJECT = """mutation ($id: ID!, $input: UpdateProjectInput!) {
  updateProject(id: $id, input: $input) { id name slug description updatedAt } }"""
CREATE_TASK = """mutation ($input: CreateTaskInput!) {
  createTask(input: $input) { id title description status priority progressPercent dueDate
    projectId parentId project { slug } parent { id } assignments { role worker { handle } } } }"""
UPDATE_TASK = """mutation ($id: ID!, $input: UpdateTaskInput!) {
  updateTask(id: $id, input: $input) { id title description status priority progressPercent
    dueDate projectId parentId updatedAt } }"""
CREATE_TASKS = (
    """mutation ($input: [CreateTaskInput!]!) { createTasks(input: $input) { id title } }"""
)
DELETE_TASK = "mutation ($id: ID!) { deleteTask(id: $id) }"
ASSIGN = """mutation ($t: ID!, $w: ID!, $role: AssignmentRole! = ASSIGNEE) {
  assignWorker(taskId: $t, workerId: $w, role: $role) { role assignedAt task { id } worker { id handle } } }"""
UNASSIGN = """mutation ($t: ID!, $w: ID!) { unassignWorker(taskId: $t, workerId: $w) {
  id workers { id } } }"""


async def audit_rows(engine: AsyncEngine, team_id: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(AUDIT).where(AUDIT.c.team_id == team_id).order_by(AUDIT.c.id)
        )
        return [dict(row._mapping) for row in rows]


async def count_rows(engine: AsyncEngine, table: sa.Table, team_id: int) -> int:
    async with engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(table).where(table.c.team_id == team_id)
        return int((await conn.execute(stmt)).scalar_one())


async def task_row(engine: AsyncEngine, task_id: int) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(TASK).where(TASK.c.id == task_id))).first()
        return None if row is None else dict(row._mapping)


__all__ = ["PROJECT", "TASK"]
