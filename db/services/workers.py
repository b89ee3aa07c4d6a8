"""Workers: the people and agents of a team."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import Conflict, NotFound
from db.models import AuditAction, Worker, WorkerCreate, WorkerUpdate
from db.models.worker import WorkerBase, normalize_handle
from db.services import audit
from db.services.audit import Entry
from db.services.base import ServiceBase
from db.services.caller import Caller
from db.services.catalog import WORKERS
from db.services.row_reads import ScopedReads

# What a worker's audit entries record: every field a client writes, in the model's order.
WORKER_FIELDS = tuple(WorkerBase.model_fields)


def _values(worker: Any) -> dict[str, Any]:
    return {name: getattr(worker, name) for name in WORKER_FIELDS}


class WorkerService(ServiceBase[Worker, WorkerCreate, WorkerUpdate], ScopedReads):
    model = Worker
    entity_name = "Worker"
    entity = WORKERS
    conflict_message = "handle: a worker with this handle already exists in the team"

    async def get_by_handle(
        self, session: AsyncSession, team_id: int, handle: str
    ) -> Worker | None:
        stmt = select(Worker).where(
            col(Worker.team_id) == team_id, col(Worker.handle) == normalize_handle(handle)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def list_for_team(self, session: AsyncSession, team_id: int) -> list[Worker]:
        stmt = select(Worker).where(col(Worker.team_id) == team_id).order_by(col(Worker.id))
        return list((await session.execute(stmt)).scalars())

    async def require_handle(self, session: AsyncSession, team_id: int, handle: str) -> Worker:
        worker = await self.get_by_handle(session, team_id, handle)
        if worker is None:
            raise NotFound(f"no worker {normalize_handle(handle)} in this team")
        return worker

    async def create(self, session: AsyncSession, caller: Caller, data: WorkerCreate) -> Worker:
        """A new worker; audited when a worker of the team (not an operator) made it."""
        team_id = caller.team_id
        if await self.get_by_handle(session, team_id, data.handle) is not None:
            raise Conflict(self.conflict_message, field="handle")
        worker = await self._insert(session, Worker(team_id=team_id, **data.model_dump()))
        if caller.worker_id is not None:
            audit.record(
                session,
                caller,
                AuditAction.CREATE,
                Worker,
                [Entry(worker.id, audit.created(_values(worker)))],
            )
        return worker

    async def update(
        self,
        session: AsyncSession,
        caller: Caller,
        worker_id: int,
        changes: dict[str, Any],
    ) -> Worker:
        team_id = caller.team_id
        worker = await self.get_locked(session, team_id, worker_id)
        diff = audit.updated(_values(worker), changes)
        if not diff:
            return worker
        renamed = "handle" in changes and changes["handle"] != worker.handle
        if renamed and await self.get_by_handle(session, team_id, changes["handle"]) is not None:
            raise Conflict(self.conflict_message, field="handle")
        await self._apply(session, worker, changes)
        audit.record(session, caller, AuditAction.UPDATE, Worker, [Entry(worker_id, diff)])
        return worker


workers = WorkerService()
