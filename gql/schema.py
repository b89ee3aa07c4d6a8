"""The schema: root types and the extensions that guard every operation."""

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from db.models import TeamRead
from db.services.teams import teams
from db.settings import Settings
from gql.context import Context
from gql.extensions import OperationBoundary
from gql.types.team import TeamObject
from gql.types.worker import WorkerObject


@strawberry.type
class Query:
    @strawberry.field(description="The worker the request's token belongs to.")
    async def me(self, info: Info[Context, None]) -> WorkerObject:
        ctx = info.context
        worker = await ctx.loaders.worker_by_id.load(ctx.principal.worker_id)
        assert worker is not None  # a token's worker is deleted with its token
        return WorkerObject.from_pydantic(worker)

    @strawberry.field(description="The caller's team.")
    async def team(self, info: Info[Context, None]) -> TeamObject:
        ctx = info.context
        async with ctx.db.use() as session:
            row = await teams.get_by_id(session, ctx.team_id)
        assert row is not None
        return TeamObject.from_pydantic(TeamRead.model_validate(row, from_attributes=True))


class TaskqlSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        # OperationBoundary logs what is unexpected; client mistakes are not server errors.
        return None


def build_schema(settings: Settings) -> strawberry.Schema:
    extensions: list[Any] = [
        lambda: QueryDepthLimiter(max_depth=settings.max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        OperationBoundary,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return TaskqlSchema(
        query=Query,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
    )


# The schema as `strawberry export-schema gql.schema:schema` and the tests see it.
schema = build_schema(Settings())
