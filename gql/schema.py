"""The schema: root types and the extensions that guard every operation."""

import functools
from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter

from db.settings import Settings
from gql.extensions import OperationBoundary
from gql.mutations import Mutation
from gql.nul_strings import NoNulInStringLiterals
from gql.planned import PlannedExecutor
from gql.queries import Query
from gql.socket_guard import SocketGuard
from gql.subscriptions import Subscription
from gql.validation import CachedValidation


class TaskqlSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: object = None) -> None:
        # OperationBoundary logs what is unexpected; client mistakes are not server errors.
        return None


class CachedNameConverter(NameConverter):
    """snake_case -> camelCase once per name, not once per field of every request."""

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (one converter per schema, kept for its life)
    def apply_naming_config(self, name: str) -> str:
        return super().apply_naming_config(name)


def build_schema(settings: Settings, *, extensions_before: Sequence[Any] = ()) -> strawberry.Schema:
    """extensions_before come first, so they wrap the others (observability)."""
    # The limit rules are built once: the validation cache is keyed by the rule classes,
    # and the limiters would otherwise make new ones for every request.
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        NoNulInStringLiterals,
    ]
    extensions: list[Any] = [
        *extensions_before,
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: CachedValidation(hide_suggestions=not settings.introspection),
        OperationBoundary,
        SocketGuard,
    ]
    if not settings.introspection:
        extensions.append(DisableIntrospection)
    return TaskqlSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(name_converter=CachedNameConverter()),
        execution_context_class=PlannedExecutor,
    )


def __getattr__(name: str) -> Any:
    # `strawberry export-schema gql.schema:schema` finds the schema here. Built on demand:
    # importing this module (as the app does, to build its own) must not build a second one.
    if name == "schema":
        return build_schema(Settings())
    raise AttributeError(name)
