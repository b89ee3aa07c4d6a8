"""Known datasets for read tests, inserted in bulk through Core."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import AssignmentRole, TaskPriority, TaskStatus, WorkerType
from db.services.catalog import ASSIGNMENT, PROJECT, TASK, WORKER
from tests.factories import Member

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Forest:
    project_ids: list[int]
    worker_ids: list[int]
    root_ids: list[int]
    children: dict[int, list[int]] = field(default_factory=dict)


async def build_forest(
    engine: AsyncEngine,
    member: Member,
    *,
    roots: int,
    children_per_root: int = 3,
    grandchildren_per_child: int = 1,
    projects: int = 2,
    workers: int = 3,
) -> Forest:
    """`roots` top-level tasks spread over projects, each with children and grandchildren;
    every task has an assignee and a reviewer."""
    team = member.team_id
    async with engine.begin() as conn:
        project_ids = [
            (
                await conn.execute(
                    sa.insert(PROJECT).returning(PROJECT.c.id),
                    {
                        "team_id": team,
                        "name": f"P{i}",
                        "slug": f"p{i}",
                        "created_at": BASE_TIME,
                        "updated_at": BASE_TIME,
                    },
                )
            ).scalar_one()
            for i in range(projects)
        ]
        worker_ids = [
            (
                await conn.execute(
                    sa.insert(WORKER).returning(WORKER.c.id),
                    {
                        "team_id": team,
                        "handle": f"@w{i}",
                        "name": f"W{i}",
                        "type": WorkerType.AGENT if i % 2 else WorkerType.HUMAN,
                        "created_at": BASE_TIME,
                    },
                )
            ).scalar_one()
            for i in range(workers)
        ]
        forest = Forest(project_ids, [member.worker_id, *worker_ids], [])

        async def insert_level(
            parents: list[tuple[int | None, int]], per: int, depth: int
        ) -> list[tuple[int, int]]:
            rows = []
            for n, (parent_id, project_id) in enumerate(parents):
                for k in range(per):
                    i = n * per + k
                    rows.append(
                        {
                            "team_id": team,
                            "project_id": project_id,
                            "parent_id": parent_id,
                            "title": f"d{depth} t{i}",
                            "status": list(TaskStatus)[i % 3],
                            "priority": list(TaskPriority)[(i // 3) % 3],
                            "progress_percent": (i * 7) % 101,
                            "due_date": None if i % 4 == 0 else BASE_TIME + timedelta(days=i % 5),
                            "created_at": BASE_TIME + timedelta(minutes=i),
                            "updated_at": BASE_TIME + timedelta(minutes=i),
                        }
                    )
            if not rows:
                return []
            ids = [
                r[0] for r in (await conn.execute(sa.insert(TASK).returning(TASK.c.id), rows)).all()
            ]
            links = []
            for task_id, row in zip(ids, rows, strict=True):
                people = forest.worker_ids
                a = people[task_id % len(people)]
                r = people[(task_id + 1) % len(people)]
                links.append(
                    {
                        "team_id": team,
                        "task_id": task_id,
                        "worker_id": a,
                        "role": AssignmentRole.ASSIGNEE,
                        "assigned_at": BASE_TIME,
                    }
                )
                links.append(
                    {
                        "team_id": team,
                        "task_id": task_id,
                        "worker_id": r,
                        "role": AssignmentRole.REVIEWER,
                        "assigned_at": BASE_TIME,
                    }
                )
                if row["parent_id"] is not None:
                    forest.children.setdefault(row["parent_id"], []).append(task_id)
            await conn.execute(sa.insert(ASSIGNMENT), links)
            return [(task_id, row["project_id"]) for task_id, row in zip(ids, rows, strict=True)]

        root_rows = await insert_level(
            [(None, project_ids[i % projects] if projects else None) for i in range(roots)], 1, 0
        )
        forest.root_ids = [task_id for task_id, _ in root_rows]
        child_rows = await insert_level(root_rows, children_per_root, 1)  # type: ignore[arg-type]
        await insert_level(child_rows, grandchildren_per_child, 2)  # type: ignore[arg-type]
    return forest
