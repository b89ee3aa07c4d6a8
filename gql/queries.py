"""The Query root: thin resolvers that turn arguments into plain values and call services."""

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info

from db.services import stats
from db.services.audit import audit_log
from db.services.filters import Tree
from db.services.pagination import SortKey, Window
from db.services.projects import projects
from db.services.row_reads import ScopedReads
from db.services.tasks import tasks
from db.services.teams import teams
from db.services.workers import workers
from gql.connection_args import order_keys, page_window
from gql.context import Context
from gql.ids import parse_id
from gql.inputs import (
    AuditWhere,
    ProjectOrderBy,
    ProjectWhere,
    TaskOrderBy,
    TaskWhere,
    WorkerOrderBy,
    WorkerWhere,
    to_tree,
)
from gql.lookups import project_lookup, worker_lookup
from gql.types.audit import AuditEntryObject, audit_from_row
from gql.types.connection import Connection, connection
from gql.types.project import ProjectObject, project_from_row
from gql.types.stats import TaskStatsObject, stats_object
from gql.types.task import TaskObject, task_from_row
from gql.types.team import TeamObject
from gql.types.worker import WorkerObject, worker_from_row

NodeT = TypeVar("NodeT")

_NEWEST_FIRST = (SortKey("id", descending=True),)


async def _connection(
    ctx: Context,
    reads: ScopedReads,
    tree: Tree | None,
    keys: tuple[SortKey, ...],
    win: Window,
    to_node: Callable[[Any], NodeT],
) -> Connection[NodeT]:
    team_id = ctx.team_id
    page = await ctx.db.run(lambda session: reads.page(session, team_id, tree, keys, win))

    async def count() -> int:
        return await ctx.db.run(lambda session: reads.count(session, team_id, tree))

    return connection(page, to_node, count)


@strawberry.type
class Query:
    @strawberry.field(description="The worker the request's token belongs to.")
    async def me(self, info: Info[Context, None]) -> WorkerObject:
        ctx = info.context
        worker = await ctx.loaders.worker_by_id.load(ctx.principal.worker_id)
        assert worker is not None  # a worker's tokens are deleted with it
        return worker

    @strawberry.field(description="The caller's team.")
    async def team(self, info: Info[Context, None]) -> TeamObject:
        ctx = info.context
        team_id = ctx.team_id
        row = await ctx.db.run(lambda session: teams.get_by_id(session, team_id))
        assert row is not None
        return TeamObject(id=row.id, name=row.name, slug=row.slug)

    @strawberry.field(description="A project by id or slug (both must match when both are given).")
    async def project(
        self, info: Info[Context, None], id: strawberry.ID | None = None, slug: str | None = None
    ) -> ProjectObject | None:
        ctx = info.context
        tree = project_lookup(id, slug)
        team_id = ctx.team_id
        row = await ctx.db.run(lambda session: projects.first(session, team_id, tree))
        return None if row is None else project_from_row(row)

    @strawberry.field
    async def projects(
        self,
        info: Info[Context, None],
        where: ProjectWhere | None = None,
        order_by: list[ProjectOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ProjectObject]:
        ctx = info.context
        win = page_window(ctx, first, after, last, before)
        return await _connection(
            ctx, projects, to_tree(where), order_keys(order_by), win, project_from_row
        )

    @strawberry.field(description="A task by id; null when it does not exist in your team.")
    async def task(self, info: Info[Context, None], id: strawberry.ID) -> TaskObject | None:
        return await info.context.loaders.task_by_id.load(parse_id(id))

    @strawberry.field(description="Tasks at every depth; filter on parentId isNull for top level.")
    async def tasks(
        self,
        info: Info[Context, None],
        where: TaskWhere | None = None,
        order_by: list[TaskOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TaskObject]:
        ctx = info.context
        win = page_window(ctx, first, after, last, before)
        return await _connection(
            ctx, tasks, to_tree(where), order_keys(order_by), win, task_from_row
        )

    @strawberry.field
    async def task_stats(
        self, info: Info[Context, None], where: TaskWhere | None = None
    ) -> TaskStatsObject:
        ctx = info.context
        tree = to_tree(where)
        team_id = ctx.team_id
        result = await ctx.db.run(lambda session: stats.task_stats(session, team_id, tree))
        return stats_object(result)

    @strawberry.field(description="A worker by id or handle (both must match when both are given).")
    async def worker(
        self, info: Info[Context, None], id: strawberry.ID | None = None, handle: str | None = None
    ) -> WorkerObject | None:
        ctx = info.context
        tree = worker_lookup(id, handle)
        team_id = ctx.team_id
        row = await ctx.db.run(lambda session: workers.first(session, team_id, tree))
        return None if row is None else worker_from_row(row)

    @strawberry.field
    async def workers(
        self,
        info: Info[Context, None],
        where: WorkerWhere | None = None,
        order_by: list[WorkerOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WorkerObject]:
        ctx = info.context
        win = page_window(ctx, first, after, last, before)
        return await _connection(
            ctx, workers, to_tree(where), order_keys(order_by), win, worker_from_row
        )

    @strawberry.field(description="Every recorded change, newest first.")
    async def audit_log(
        self,
        info: Info[Context, None],
        where: AuditWhere | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEntryObject]:
        ctx = info.context
        win = page_window(ctx, first, after)
        return await _connection(ctx, audit_log, to_tree(where), _NEWEST_FIRST, win, audit_from_row)
