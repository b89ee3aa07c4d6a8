"""The schema: root types and the extensions that guard every operation."""

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig

from db.settings import Settings
from gql.extensions import OperationBoundary
from gql.queries import Query


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
