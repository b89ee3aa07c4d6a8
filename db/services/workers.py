"""Workers: the people and agents of a team."""

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import NotFound
from db.models import Worker, WorkerCreate, WorkerUpdate
from db.models.worker import normalize_handle
from db.services.base import ServiceBase


class WorkerService(ServiceBase[Worker, WorkerCreate, WorkerUpdate]):
    model = Worker
    entity_name = "Worker"
    conflict_message = "a worker with this handle already exists in the team"

    async def get_by_handle(
        self, session: AsyncSession, team_id: int, handle: str
    ) -> Worker | None:
        stmt = select(Worker).where(
            col(Worker.team_id) == team_id, col(Worker.handle) == normalize_handle(handle)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def require_handle(self, session: AsyncSession, team_id: int, handle: str) -> Worker:
        worker = await self.get_by_handle(session, team_id, handle)
        if worker is None:
            raise NotFound(f"no worker {normalize_handle(handle)} in this team")
        return worker

    async def create(self, session: AsyncSession, team_id: int, data: WorkerCreate) -> Worker:
        return await self._insert(session, Worker(team_id=team_id, **data.model_dump()))


workers = WorkerService()
