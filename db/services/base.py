"""What every team-scoped service shares: scoped lookups, create and partial update.

Services take the session first, flush to get ids and never commit: the
operation that calls them owns the transaction.
"""

from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, select

from db.errors import Conflict, NotFound

ModelT = TypeVar("ModelT", bound=SQLModel)
CreateT = TypeVar("CreateT", bound=SQLModel)
UpdateT = TypeVar("UpdateT", bound=SQLModel)


class ServiceBase(Generic[ModelT, CreateT, UpdateT]):
    model: type[ModelT]
    # Named in NotFound messages: the GraphQL type name clients know.
    entity_name: str
    # What a duplicate means to the client, for models with a uniqueness rule.
    conflict_message: str = "already exists"

    def _by_id(self, team_id: int, id_: int) -> Any:
        return select(self.model).where(
            self.model.id == id_,  # type: ignore[attr-defined]
            self.model.team_id == team_id,  # type: ignore[attr-defined]
        )

    async def get(self, session: AsyncSession, team_id: int, id_: int) -> ModelT | None:
        return (await session.execute(self._by_id(team_id, id_))).scalar_one_or_none()

    async def get_locked(self, session: AsyncSession, team_id: int, id_: int) -> ModelT:
        """The row, locked against concurrent writers until the transaction ends
        (FOR UPDATE on PostgreSQL; SQLite's write transactions already run one at a time)."""
        stmt = self._by_id(team_id, id_).with_for_update()
        row = (await session.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"{self.entity_name} {id_} not found", field="id")
        return row

    async def _insert(self, session: AsyncSession, row: ModelT) -> ModelT:
        session.add(row)
        await self._flush(session)
        return row

    async def _apply(self, session: AsyncSession, row: ModelT, changes: dict[str, Any]) -> ModelT:
        for name, value in changes.items():
            setattr(row, name, value)
        await self._flush(session)
        return row

    async def _flush(self, session: AsyncSession) -> None:
        """Flush; a duplicate (also one a concurrent transaction just committed) is Conflict.

        A failed flush fails the whole operation, which rolls back, so no savepoint is needed.
        """
        try:
            await session.flush()
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise Conflict(self.conflict_message) from exc
            raise


def is_unique_violation(exc: IntegrityError) -> bool:
    # asyncpg's UniqueViolationError has sqlstate 23505; sqlite3 says so in words.
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return sqlstate == "23505" or "UNIQUE constraint failed" in str(orig)
