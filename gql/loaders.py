"""The per-request DataLoader registry.

Built for each request once its caller is known (Context.loaders), so a loader's
cache lives exactly as long as its request and binds to the running loop. Every
relationship field goes through here: all keys asked for in one tick of the
event loop become one SQL statement.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from functools import cached_property, partial
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from db.services import assignments, stats, trees
from db.services.filters import Tree
from db.services.pagination import SortKey, Window
from db.services.projects import projects
from db.services.tasks import TaskParent, tasks
from db.services.workers import workers
from db.session import RequestEnded, RequestSession
from gql.types.assignment import TaskAssignmentObject, assignment_from_row
from gql.types.connection import Connection, connection
from gql.types.project import ProjectObject, project_from_row
from gql.types.stats import TaskStatsObject, stats_object
from gql.types.task import TaskObject, task_from_row
from gql.types.worker import WorkerObject, worker_from_row

KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")

Fetch = Callable[[AsyncSession, list[KeyT]], Awaitable[Mapping[KeyT, ValueT]]]
ObjectT = TypeVar("ObjectT")
_Assignments = dict[int, list[TaskAssignmentObject]]


def _each(convert: Callable[[Any], ObjectT], found: Mapping[int, Any]) -> dict[int, ObjectT]:
    return {key: convert(row) for key, row in found.items()}


def _lists(
    convert: Callable[[Any], ObjectT], found: Mapping[int, list[Any]]
) -> dict[int, list[ObjectT]]:
    return {key: [convert(row) for row in rows] for key, rows in found.items()}


# Both drivers cap the parameters of one statement (asyncpg and SQLite at 32,767); past
# this many keys a batch splits, which only very large responses ever reach.
MAX_BATCH = 10_000


class BatchLoader(DataLoader[KeyT, ValueT], Generic[KeyT, ValueT]):
    """One statement for all keys of a tick, under the request's session lock."""

    def __init__(self, db: RequestSession, fetch: Fetch[KeyT, ValueT], missing: ValueT) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self._db = db
        self._fetch = fetch
        self._missing = missing

    def load(self, key: KeyT) -> "asyncio.Future[ValueT]":
        """A future of its own for each caller, following the cached one. A DataLoader
        hands the same future to every field that asks for a key, and graphql-core
        cancels what a list or object still awaits once a sibling failed (directly, or
        through the task of an async resolver awaiting it): the shared future cancelled
        would fail every other field waiting on it with a CancelledError, which escapes
        every error handler."""
        return _detached(super().load(key))

    async def batch_load_fn(self, keys: Sequence[KeyT]) -> list[ValueT]:
        unique = list(dict.fromkeys(keys))
        try:
            found = await self._db.run(lambda session: self._fetch(session, unique))
        except RequestEnded:
            # Dispatched after its request ended: nobody waits for these keys any more,
            # and failing their futures would only log exceptions nobody retrieves.
            raise asyncio.CancelledError() from None
        return [found.get(key, self._missing) for key in keys]


def _detached(shared: "asyncio.Future[ValueT]") -> "asyncio.Future[ValueT]":
    """A future that settles as `shared` does; cancelling it leaves `shared` alone. A
    failure nobody awaits any more (graphql-core gave up on the field after a sibling
    failed, and reported that one) is not logged as "never retrieved"."""
    own: asyncio.Future[ValueT] = shared.get_loop().create_future()

    def follow(done: "asyncio.Future[ValueT]") -> None:
        if done.cancelled():
            if not own.cancelled():
                own.cancel()
            return
        error = done.exception()
        if own.cancelled():
            return
        if error is not None:
            own.set_exception(error)
            own.exception()  # marks it retrieved; whoever awaits it still gets it
        else:
            own.set_result(done.result())

    shared.add_done_callback(follow)
    return own


class _Prefixed:
    """Attribute access to the `prefix`-labelled columns of a joined row."""

    __slots__ = ("_mapping", "_prefix")

    def __init__(self, mapping: Mapping[str, Any], prefix: str) -> None:
        self._mapping = mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]


def _signature(*parts: Any) -> str:
    """A cache key for loader arguments (filters, orders, windows).

    repr is stable for the plain trees the inputs become (same document, same key order)
    and much cheaper than JSON, which matters: nested fields ask once per parent.
    """
    return repr(parts)


class Loaders:
    """Loaders answer GraphQL objects, converted once per batch, so that relationship
    resolvers can hand graphql-core the loader's future without a coroutine of their own."""

    def __init__(self, db: RequestSession, team_id: int | None) -> None:
        self._db = db
        # Without a principal nothing tenant-scoped may load: -1 is no team's id.
        self._team = team_id if team_id is not None else -1
        self._by_args: dict[str, BatchLoader[Any, Any]] = {}
        self._workers_seen: dict[int, WorkerObject] = {}

    def _loader(self, fetch: Fetch[Any, Any], missing: Any = None) -> BatchLoader[Any, Any]:
        return BatchLoader(self._db, fetch, missing)

    def _keyed(
        self, signature: str, make: Callable[[], BatchLoader[Any, Any]]
    ) -> BatchLoader[Any, Any]:
        loader = self._by_args.get(signature)
        if loader is None:
            loader = self._by_args[signature] = make()
        return loader

    # -- objects by id ---------------------------------------------------------------

    @cached_property
    def task_by_id(self) -> BatchLoader[int, TaskObject | None]:
        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, TaskObject]:
            return _each(task_from_row, await tasks.by_ids(session, self._team, ids))

        return self._loader(fetch)

    @cached_property
    def project_by_id(self) -> BatchLoader[int, ProjectObject | None]:
        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, ProjectObject]:
            return _each(project_from_row, await projects.by_ids(session, self._team, ids))

        return self._loader(fetch)

    @cached_property
    def worker_by_id(self) -> BatchLoader[int, WorkerObject | None]:
        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, WorkerObject]:
            return _each(worker_from_row, await workers.by_ids(session, self._team, ids))

        return self._loader(fetch)

    # -- lists per parent ---------------------------------------------------------------

    @cached_property
    def assignments_by_task(self) -> BatchLoader[int, list[TaskAssignmentObject]]:
        """Assignments with their workers, which also fill the worker loader's cache."""

        async def fetch(session: AsyncSession, ids: list[int]) -> _Assignments:
            found = await assignments.for_tasks(session, self._team, ids)
            return {
                task_id: [
                    assignment_from_row(row, loaded_worker=self._worker_of(row)) for row in rows
                ]
                for task_id, rows in found.items()
            }

        return self._loader(fetch, [])

    def _worker_of(self, row: Any) -> WorkerObject:
        """The worker columns of a joined assignment row, as one object per worker."""
        worker = self._workers_seen.get(row.worker_id)
        if worker is None:
            worker = worker_from_row(_Prefixed(row._mapping, assignments.WORKER_PREFIX))
            self._workers_seen[row.worker_id] = worker
            self.worker_by_id.prime(row.worker_id, worker)
        return worker

    @cached_property
    def assignments_by_worker(self) -> BatchLoader[int, list[TaskAssignmentObject]]:
        async def fetch(session: AsyncSession, ids: list[int]) -> _Assignments:
            found = await assignments.for_workers(session, self._team, ids)
            return _lists(assignment_from_row, found)

        return self._loader(fetch, [])

    @cached_property
    def ancestors(self) -> BatchLoader[int, list[TaskObject]]:
        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, list[TaskObject]]:
            return _lists(task_from_row, await trees.ancestors(session, self._team, ids))

        return self._loader(fetch, [])

    def descendants(self, max_depth: int | None) -> BatchLoader[int, list[TaskObject]]:
        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, list[TaskObject]]:
            found = await trees.descendants(session, self._team, ids, max_depth)
            return _lists(task_from_row, found)

        return self._keyed(_signature("descendants", max_depth), lambda: self._loader(fetch, []))

    @cached_property
    def project_stats(self) -> BatchLoader[int, TaskStatsObject]:
        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, TaskStatsObject]:
            found = await stats.project_stats(session, self._team, ids)
            return {key: stats_object(value) for key, value in found.items()}

        return self._loader(fetch)

    # -- nested task connections ------------------------------------------------------------

    def task_connections(
        self,
        parent: TaskParent,
        where: Tree | None,
        keys: Sequence[SortKey],
        win: Window,
    ) -> BatchLoader[int, Connection[TaskObject]]:
        """The first page of tasks under each `parent` (a project, a task, a worker); one
        loader per argument set, so they never mix."""
        counts = self.task_counts(parent, where)

        async def fetch(session: AsyncSession, ids: list[int]) -> dict[int, Connection[TaskObject]]:
            pages = await tasks.pages_under(session, self._team, parent, ids, where, keys, win)
            return {
                key: connection(page, task_from_row, partial(counts.load, key))
                for key, page in pages.items()
            }

        signature = _signature("pages", parent, where, keys, win)
        return self._keyed(signature, lambda: self._loader(fetch))

    def task_counts(self, parent: TaskParent, where: Tree | None) -> BatchLoader[int, int]:
        async def fetch(session: AsyncSession, ids: list[int]) -> Mapping[int, int]:
            return await tasks.counts_under(session, self._team, parent, ids, where)

        return self._keyed(_signature("counts", parent, where), lambda: self._loader(fetch, 0))


def build_loaders(db: RequestSession, team_id: int | None) -> Loaders:
    return Loaders(db, team_id)
