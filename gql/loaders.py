"""The per-request DataLoader registry.

Built fresh for every request inside the async context getter, so a loader's
cache lives exactly as long as its request (and binds to the running loop).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiodataloader import DataLoader
from sqlmodel import SQLModel

from db.models import WorkerRead
from db.services.workers import workers
from gql.context import RequestSession

ReadT = TypeVar("ReadT", bound=SQLModel)


class WorkerByIdLoader(DataLoader[int, WorkerRead | None]):
    def __init__(self, db: RequestSession, team_id: int) -> None:
        super().__init__()
        self.db = db
        self.team_id = team_id

    async def batch_load_fn(self, keys: Sequence[int]) -> list[WorkerRead | None]:
        async with self.db.use() as session:
            rows = await workers.get_many(session, self.team_id, list(set(keys)))
        return [to_read(WorkerRead, rows.get(key)) for key in keys]


def to_read(model: type[ReadT], row: SQLModel | None) -> ReadT | None:
    return None if row is None else model.model_validate(row, from_attributes=True)


@dataclass
class Loaders:
    worker_by_id: WorkerByIdLoader


def build_loaders(db: RequestSession, team_id: int | None) -> Loaders:
    # Without a principal nothing tenant-scoped may load: -1 is no team's id.
    scope = team_id if team_id is not None else -1
    return Loaders(worker_by_id=WorkerByIdLoader(db, scope))
