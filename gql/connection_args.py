"""Connection arguments, validated and turned into plain values for the services."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from db.services.pagination import SortKey, Window, normalize_keys, window
from db.services.tasks import TaskParent
from gql.context import Context
from gql.inputs import OrderByInput, TaskOrderBy, TaskWhere, sort_keys, to_tree
from gql.types.deferred import deferred

if TYPE_CHECKING:
    from gql.types.connection import Connection
    from gql.types.task import TaskObject


def page_window(
    ctx: Context,
    first: int | None,
    after: str | None,
    last: int | None = None,
    before: str | None = None,
) -> Window:
    return window(
        first=first, after=after, last=last, before=before, max_size=ctx.settings.max_page_size
    )


def order_keys(order_by: Sequence[OrderByInput] | None) -> tuple[SortKey, ...]:
    return normalize_keys(sort_keys(list(order_by or [])))


def nested_tasks(
    ctx: Context,
    parent: TaskParent,
    parent_id: int,
    where: TaskWhere | None,
    order_by: list[TaskOrderBy] | None,
    first: int | None,
    after: str | None,
) -> "Connection[TaskObject]":
    """A task connection under each of many parents, batched into one statement per field."""
    tree = to_tree(where)
    keys = order_keys(order_by)
    win = page_window(ctx, first, after)
    loader = ctx.loaders.task_connections(parent, tree, keys, win)
    return deferred(loader.load(parent_id))
