"""Teams: created from the command line."""

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from db.errors import Conflict, NotFound
from db.models import Team, TeamCreate, TeamUpdate
from db.services.base import ServiceBase


class TeamService(ServiceBase[Team, TeamCreate, TeamUpdate]):
    model = Team
    entity_name = "Team"
    conflict_message = "a team with this slug already exists"

    async def get_by_id(self, session: AsyncSession, team_id: int) -> Team | None:
        return await session.get(Team, team_id)

    async def get_by_slug(self, session: AsyncSession, slug: str) -> Team | None:
        return (
            await session.execute(select(Team).where(col(Team.slug) == slug))
        ).scalar_one_or_none()

    async def list_all(self, session: AsyncSession) -> list[Team]:
        """Every team, oldest first: teams are the one thing an operator sees across tenants."""
        return list((await session.execute(select(Team).order_by(col(Team.id)))).scalars())

    async def require_slug(self, session: AsyncSession, slug: str) -> Team:
        team = await self.get_by_slug(session, slug)
        if team is None:
            raise NotFound(f"no team with slug {slug!r}")
        return team

    async def create(self, session: AsyncSession, data: TeamCreate) -> Team:
        if await self.get_by_slug(session, data.slug) is not None:
            raise Conflict(self.conflict_message)
        return await self._insert(session, Team.model_validate(data))


teams = TeamService()
