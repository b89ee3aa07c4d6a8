"""Demo data for a first look, and bulk tasks for load tests."""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.events import outbox
from db.models import (
    AssignmentRole,
    AuditAction,
    Project,
    Task,
    TaskAssignment,
    TaskPriority,
    TaskStatus,
    Team,
    TeamCreate,
    Worker,
    WorkerType,
    utcnow,
)
from db.services import audit, tokens
from db.services.assignments import assigned_entry
from db.services.audit import Entry
from db.services.caller import Caller
from db.services.tasks import created_entry
from db.services.teams import teams

DEMO_TEAM_SLUG = "demo"

_WORKERS = [
    ("@alice", "Alice Chen", WorkerType.HUMAN),
    ("@bob", "Bob Okafor", WorkerType.HUMAN),
    ("@claude-code", "Claude Code", WorkerType.AGENT),
    ("@review-bot", "Review Bot", WorkerType.AGENT),
]

# (slug, name, description, task tree); a tree node is (title, status, priority, progress, children)
_Tree = list[tuple[str, TaskStatus, TaskPriority, int, list[Any]]]
_PROJECTS: list[tuple[str, str, str, _Tree]] = [
    (
        "website-relaunch",
        "Website relaunch",
        "New marketing site with docs and a pricing page.",
        [
            (
                "Design the landing page",
                TaskStatus.IN_PROGRESS,
                TaskPriority.HIGH,
                60,
                [
                    ("Hero section copy", TaskStatus.COMPLETED, TaskPriority.MEDIUM, 100, []),
                    (
                        "Illustrations",
                        TaskStatus.IN_PROGRESS,
                        TaskPriority.LOW,
                        30,
                        [
                            (
                                "Pick an illustration style",
                                TaskStatus.COMPLETED,
                                TaskPriority.LOW,
                                100,
                                [],
                            ),
                        ],
                    ),
                ],
            ),
            (
                "Pricing page",
                TaskStatus.PENDING,
                TaskPriority.MEDIUM,
                0,
                [
                    ("Compare plans table", TaskStatus.PENDING, TaskPriority.MEDIUM, 0, []),
                ],
            ),
        ],
    ),
    (
        "api-v2",
        "API v2",
        "GraphQL API for partners.",
        [
            ("Write the schema", TaskStatus.COMPLETED, TaskPriority.HIGH, 100, []),
            (
                "Implement resolvers",
                TaskStatus.IN_PROGRESS,
                TaskPriority.HIGH,
                45,
                [
                    ("Task queries", TaskStatus.COMPLETED, TaskPriority.HIGH, 100, []),
                    ("Mutations with audit log", TaskStatus.IN_PROGRESS, TaskPriority.HIGH, 20, []),
                ],
            ),
            ("Load test", TaskStatus.PENDING, TaskPriority.LOW, 0, []),
        ],
    ),
]


@dataclass(frozen=True)
class SeedResult:
    team_id: int
    created: bool
    token: str
    token_id: int


async def seed_demo(session: AsyncSession) -> SeedResult:
    """Create the demo team once; every call issues a fresh token for @alice."""
    team = await teams.get_by_slug(session, DEMO_TEAM_SLUG)
    created = team is None
    if team is None:
        team = await teams.create(session, TeamCreate(name="Demo Team", slug=DEMO_TEAM_SLUG))
        await _seed_team(session, _id(team))
    team_id = _id(team)
    alice_id = (
        await session.execute(
            select(col(Worker.id)).where(
                col(Worker.team_id) == team_id, col(Worker.handle) == "@alice"
            )
        )
    ).scalar_one()
    assert alice_id is not None
    issued = await tokens.issue(session, team_id=team_id, worker_id=alice_id, label="demo")
    return SeedResult(team_id=team_id, created=created, token=issued.secret, token_id=issued.id)


def _id(row: Team | Worker | Project | Task) -> int:
    assert row.id is not None, "flush first"
    return row.id


async def _seed_team(session: AsyncSession, team_id: int) -> None:
    workers = [Worker(team_id=team_id, handle=h, name=n, type=t) for h, n, t in _WORKERS]
    session.add_all(workers)
    await session.flush()
    worker_ids = [_id(worker) for worker in workers]
    # Seeding is an operator's change: audited (and sent to subscribers) without an actor.
    operator = Caller(team_id)
    rng = random.Random(7)
    now = utcnow()

    async def add(nodes: _Tree, project_id: int, parent_id: int | None, depth: int) -> None:
        for title, status, priority, progress, children in nodes:
            task = Task(
                team_id=team_id,
                project_id=project_id,
                parent_id=parent_id,
                title=title,
                status=status,
                priority=priority,
                progress_percent=progress,
                due_date=now + timedelta(days=rng.randint(3, 60)) if depth == 0 else None,
            )
            session.add(task)
            await session.flush()
            audit.record(session, operator, AuditAction.CREATE, Task, [created_entry(task)])
            roles = (AssignmentRole.ASSIGNEE, AssignmentRole.REVIEWER)
            for worker_id, role in zip(rng.sample(worker_ids, 2), roles, strict=True):
                session.add(
                    TaskAssignment(
                        team_id=team_id, task_id=_id(task), worker_id=worker_id, role=role
                    )
                )
                audit.record(
                    session,
                    operator,
                    AuditAction.ASSIGN,
                    TaskAssignment,
                    [assigned_entry(_id(task), worker_id, role, project_id)],
                )
            await add(children, project_id, _id(task), depth + 1)

    for slug, name, description, tree in _PROJECTS:
        project = Project(team_id=team_id, name=name, slug=slug, description=description)
        session.add(project)
        await session.flush()
        audit.record(
            session,
            operator,
            AuditAction.CREATE,
            Project,
            [
                Entry(
                    project.id,
                    audit.created({"name": name, "slug": slug, "description": description}),
                )
            ],
        )
        await add(tree, _id(project), None, 0)
    await session.flush()


async def seed_tasks(
    session: AsyncSession,
    team_id: int,
    count: int,
    *,
    max_depth: int = 4,
    assignments_per_task: int = 2,
    progress: Callable[[int], None] = lambda _done: None,
    batch_size: int = 2_000,
) -> None:
    """Insert `count` tasks in trees up to max_depth levels, level by level, in batches."""
    rng = random.Random(count)
    project_ids = await _ids(
        session, select(col(Project.id)).where(col(Project.team_id) == team_id)
    )
    worker_ids = await _ids(session, select(col(Worker.id)).where(col(Worker.team_id) == team_id))
    if not worker_ids:
        raise ValueError("the team has no workers to assign")
    # Level sizes shrink geometrically: 40% roots, the rest spread over deeper levels.
    level_sizes = _level_sizes(count, max_depth)
    parents: list[tuple[int, int | None]] = []  # (task id, project id)
    done = 0
    now = utcnow()
    operator = Caller(team_id)
    for level, size in enumerate(level_sizes):
        created: list[tuple[int, int | None]] = []
        for start in range(0, size, batch_size):
            rows = []
            for i in range(start, min(size, start + batch_size)):
                if level == 0:
                    parent_id, project_id = None, rng.choice(project_ids) if project_ids else None
                else:
                    parent_id, project_id = rng.choice(parents)
                rows.append(
                    {
                        "team_id": team_id,
                        "project_id": project_id,
                        "parent_id": parent_id,
                        "title": f"Task {level}.{i}",
                        "description": None,
                        "status": rng.choice(list(TaskStatus)),
                        "priority": rng.choice(list(TaskPriority)),
                        "progress_percent": rng.randint(0, 100),
                        "due_date": now + timedelta(days=rng.randint(-30, 90))
                        if rng.random() < 0.6
                        else None,
                        # Spread over the past year, as real work is.
                        "created_at": now - timedelta(minutes=rng.randint(0, 525_600)),
                        "updated_at": now,
                    }
                )
            returning = insert(Task).returning(col(Task.id), col(Task.project_id))
            result = await session.execute(returning, rows)
            inserted = [(int(row[0] or 0), row[1]) for row in result]  # ids are never NULL
            created.extend(inserted)
            new_ids = [task_id for task_id, _ in inserted]
            links = await _assign(session, team_id, new_ids, worker_ids, assignments_per_task, rng)
            tasks = [SimpleNamespace(id=i, **row) for i, row in zip(new_ids, rows, strict=True)]
            audit.record(session, operator, AuditAction.CREATE, Task, map(created_entry, tasks))
            project_of = dict(inserted)
            entries = [
                assigned_entry(
                    link["task_id"], link["worker_id"], link["role"], project_of[link["task_id"]]
                )
                for link in links
            ]
            audit.record(session, operator, AuditAction.ASSIGN, TaskAssignment, entries)
            # Written batch by batch: a large seed would otherwise hold every entry in memory.
            await outbox.write_now(session)
            done += len(rows)
            progress(done)
        parents = created


async def _ids(session: AsyncSession, stmt: Any) -> list[int]:
    return [int(value) for value in (await session.execute(stmt)).scalars()]


def _level_sizes(count: int, max_depth: int) -> list[int]:
    shares = [0.4 * (0.6**level) for level in range(max_depth)]
    scale = count / sum(shares)
    sizes = [int(share * scale) for share in shares]
    sizes[0] += count - sum(sizes)
    return [size for size in sizes if size > 0]


async def _assign(
    session: AsyncSession,
    team_id: int,
    task_ids: list[int],
    worker_ids: list[int],
    per_task: int,
    rng: random.Random,
) -> list[dict[str, Any]]:
    now = utcnow()
    rows = []
    roles = list(AssignmentRole)
    for task_id in task_ids:
        for n, worker_id in enumerate(rng.sample(worker_ids, min(per_task, len(worker_ids)))):
            rows.append(
                {
                    "team_id": team_id,
                    "task_id": task_id,
                    "worker_id": worker_id,
                    "role": roles[n % len(roles)],
                    "assigned_at": now,
                }
            )
    if rows:
        await session.execute(insert(TaskAssignment), rows)
    return rows
