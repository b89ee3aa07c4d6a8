"""The per-request DataLoader registry.

Built for every request inside the async context getter, so a loader's cache
lives exactly as long as its request (and binds to the running loop). Every
relationship field goes through here: all keys asked for in one tick of the
event loop become one SQL statement.
"""

import json
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cached_property
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from db.services import assignments, queries, stats, trees
from db.services.catalog import PROJECT, TASK, WORKER
from db.services.entities import TASKS
from db.services.filters import Tree
from db.services.pagination import Page, SortKey, Window
from db.services.queries import Partition
from gql.context import RequestSession

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")

Fetch = Callable[[AsyncSession, list[KeyT]], Awaitable[Mapping[KeyT, ValueT]]]


class BatchLoader(DataLoader[KeyT, ValueT], Generic[KeyT, ValueT]):
    """One statement for all keys of a tick, under the request's session lock."""

    def __init__(self, db: RequestSession, fetch: Fetch[KeyT, ValueT], missing: ValueT) -> None:
        super().__init__()
        self._db = db
        self._fetch = fetch
        self._missing = missing

    async def batch_load_fn(self, keys: Sequence[KeyT]) -> list[ValueT]:
        unique = list(dict.fromkeys(keys))
        async with self._db.use() as session:
            found = await self._fetch(session, unique)
        return [found.get(key, self._missing) for key in keys]


def _signature(*parts: Any) -> str:
    """A stable cache key for loader arguments (filters, orders, windows)."""
    return json.dumps(parts, sort_keys=True, default=repr)


class Loaders:
    def __init__(self, db: RequestSession, team_id: int | None) -> None:
        self._db = db
        # Without a principal nothing tenant-scoped may load: -1 is no team's id.
        self._team = team_id if team_id is not None else -1
        self._by_args: dict[str, BatchLoader[Any, Any]] = {}

    def _loader(self, fetch: Fetch[Any, Any], missing: Any = None) -> BatchLoader[Any, Any]:
        return BatchLoader(self._db, fetch, missing)

    def _keyed(
        self, signature: str, make: Callable[[], BatchLoader[Any, Any]]
    ) -> BatchLoader[Any, Any]:
        loader = self._by_args.get(signature)
        if loader is None:
            loader = self._by_args[signature] = make()
        return loader

    # -- rows by id ---------------------------------------------------------------

    @cached_property
    def task_by_id(self) -> BatchLoader[int, Any]:
        return self._loader(lambda s, ids: queries.by_ids(s, TASK, self._team, ids))

    @cached_property
    def project_by_id(self) -> BatchLoader[int, Any]:
        return self._loader(lambda s, ids: queries.by_ids(s, PROJECT, self._team, ids))

    @cached_property
    def worker_by_id(self) -> BatchLoader[int, Any]:
        return self._loader(lambda s, ids: queries.by_ids(s, WORKER, self._team, ids))

    # -- lists per parent ---------------------------------------------------------

    @cached_property
    def assignments_by_task(self) -> BatchLoader[int, list[Any]]:
        return self._loader(lambda s, ids: assignments.for_tasks(s, self._team, ids), [])

    @cached_property
    def assignments_by_worker(self) -> BatchLoader[int, list[Any]]:
        return self._loader(lambda s, ids: assignments.for_workers(s, self._team, ids), [])

    @cached_property
    def ancestors(self) -> BatchLoader[int, list[Any]]:
        return self._loader(lambda s, ids: trees.ancestors(s, self._team, ids), [])

    def descendants(self, max_depth: int | None) -> BatchLoader[int, list[Any]]:
        return self._keyed(
            _signature("descendants", max_depth),
            lambda: self._loader(
                lambda s, ids: trees.descendants(s, self._team, ids, max_depth), []
            ),
        )

    @cached_property
    def project_stats(self) -> BatchLoader[int, stats.TaskStats]:
        return self._loader(lambda s, ids: stats.project_stats(s, TASKS, self._team, ids))

    # -- nested task connections -----------------------------------------------------

    def task_pages(
        self,
        relation: str,
        partition: Partition,
        where: Tree | None,
        keys: Sequence[SortKey],
        win: Window,
    ) -> BatchLoader[int, Page]:
        """`relation`'s first page per parent; one loader per argument set, so they never mix."""
        return self._keyed(
            _signature("pages", relation, where, [(k.field, k.descending) for k in keys], win),
            lambda: self._loader(
                lambda s, ids: queries.child_pages(
                    s, TASKS, self._team, partition, ids, where, keys, win
                )
            ),
        )

    def task_counts(
        self, relation: str, partition: Partition, where: Tree | None
    ) -> BatchLoader[int, int]:
        return self._keyed(
            _signature("counts", relation, where),
            lambda: self._loader(
                lambda s, ids: queries.child_counts(s, TASKS, self._team, partition, ids, where),
                0,
            ),
        )


def build_loaders(db: RequestSession, team_id: int | None) -> Loaders:
    return Loaders(db, team_id)
