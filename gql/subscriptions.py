"""The Subscription root: a team's task events, in commit order, resumable with `after`."""

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any, cast

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from db.errors import Invalid, NotFound
from db.events import outbox
from db.events.fanout import Overflowed
from db.events.outbox import OutboxEntry
from db.models import AuditAction
from db.services.projects import projects
from gql import event_cursor, event_scope, metrics
from gql.context import Context
from gql.errors import Code, ServiceUnavailable, classify
from gql.ids import parse_id
from gql.loaders import build_loaders
from gql.socket_context import SocketContext
from gql.types.task_event import TaskEventAction, TaskEventObject

_ACTIONS = {
    ("Task", AuditAction.CREATE): TaskEventAction.CREATED,
    ("Task", AuditAction.UPDATE): TaskEventAction.UPDATED,
    ("Task", AuditAction.DELETE): TaskEventAction.DELETED,
    ("TaskAssignment", AuditAction.ASSIGN): TaskEventAction.ASSIGNED,
    ("TaskAssignment", AuditAction.UNASSIGN): TaskEventAction.UNASSIGNED,
}


def in_project(entry: OutboxEntry, project_id: int | None) -> bool:
    """The event concerns the project: the task is in it, or just left it (a move out sends
    its UPDATED event; later events are the new project's)."""
    if project_id is None or entry.project_id == project_id:
        return True
    moved: Any = entry.changes.get("projectId")
    return isinstance(moved, list) and bool(moved) and moved[0] == str(project_id)


def task_event(entry: OutboxEntry, project_id: int | None) -> TaskEventObject | None:
    """The event an outbox entry makes for this subscriber; None when it makes none."""
    action = _ACTIONS.get((entry.entity_type, entry.action))
    if action is None or not in_project(entry, project_id):
        return None
    task_id, worker_id = entry.entity_id, None
    if entry.entity_type == "TaskAssignment":
        task_part, _, worker_part = entry.entity_id.partition(":")
        task_id, worker_id = task_part, int(worker_part)
    return TaskEventObject(
        cursor=event_cursor.encode(entry.team_id, entry.seq),
        action=action,
        task_id=strawberry.ID(task_id),
        changes=cast(JSON, entry.changes),
        occurred_at=entry.created_at,
        actor_id=entry.actor_id,
        worker_id=worker_id,
    )


def fell_behind(team_id: int, exc: Overflowed) -> GraphQLError:
    return GraphQLError(
        "the subscription fell too far behind; resume with `after` set to extensions.cursor",
        extensions={
            "code": Code.SERVICE_UNAVAILABLE.value,
            "cursor": event_cursor.encode(team_id, exc.cursor),
        },
    )


def database_away(cursor: str) -> GraphQLError:
    """The end of a subscription that cannot go on while the database is away; `cursor` is
    where to resume once it is back."""
    return GraphQLError(
        "the database is unavailable right now; resume with `after` set to extensions.cursor",
        extensions={"code": Code.SERVICE_UNAVAILABLE.value, "cursor": cursor},
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The team's task events in commit order, from now or right after `after`; "
        "`projectId` narrows them to one project."
    )
    async def task_events(
        self,
        info: Info[Context, None],
        project_id: strawberry.ID | None = None,
        after: str | None = None,
    ) -> AsyncGenerator[TaskEventObject, None]:
        ctx = info.context
        if not isinstance(ctx, SocketContext):
            raise Invalid("subscriptions run over the WebSocket (graphql-transport-ws)")
        team_id = ctx.team_id
        after_seq = None if after is None else event_cursor.decode(after, team_id)
        project = None if project_id is None else parse_id(project_id, field="projectId")
        async with ctx.session_factory() as session:
            if project is not None and await projects.get(session, team_id, project) is None:
                raise NotFound(f"projectId: Project {project} not found", field="projectId")
            if after_seq is not None and after_seq > await outbox.head(session, team_id):
                raise Invalid("after: not a cursor of this team's task events", field="after")
        hub = ctx.events.hub
        if hub.subscriber_count >= ctx.settings.ws_max_subscriptions:
            raise ServiceUnavailable("this server holds all the subscriptions it takes; retry")
        observed = ctx.settings.metrics
        async with hub.subscribe(team_id, after_seq) as subscriber:
            if observed:
                metrics.subscription_opened()
            try:
                while True:
                    before = subscriber.delivered
                    try:
                        entry = await subscriber.next()
                    except Overflowed as exc:
                        raise fell_behind(team_id, exc) from exc
                    except Exception as exc:
                        # A subscriber catching up (resumed from an old cursor) reads the
                        # outbox itself: with the database away it ends like one that cannot
                        # resolve its event, with its position, rather than with a bare error.
                        known = classify(exc)
                        if known is None or known[0] is not Code.SERVICE_UNAVAILABLE:
                            raise
                        cursor = event_cursor.encode(team_id, subscriber.delivered)
                        raise database_away(cursor) from exc
                    event = task_event(entry, project)
                    if event is None:
                        continue
                    scope = event_scope.EventScope(
                        ctx.session_factory,
                        team_id,
                        event_cursor.encode(team_id, before),
                        make_loaders=build_loaders,
                    )
                    event_scope.begin(scope)
                    yield event
                    if scope.unresolved:
                        return  # SocketGuard sent the end instead of the event
                    if observed:
                        # The result is built and on its way: commit to delivery.
                        committed = entry.created_at.replace(tzinfo=entry.created_at.tzinfo or UTC)
                        metrics.observe_delivery_lag(
                            (datetime.now(UTC) - committed).total_seconds()
                        )
                    # Normally released already, before the result was sent (SocketGuard).
                    await event_scope.release()
            finally:
                if observed:
                    metrics.subscription_closed()
                await event_scope.release()


def _seconds_since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment.replace(tzinfo=moment.tzinfo or UTC)).total_seconds()
