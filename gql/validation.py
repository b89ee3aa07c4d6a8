"""Document validation, cached, with suggestions hidden when introspection is off.

Strawberry's ValidationCache cannot pass graphql-core's `hide_suggestions`, and "Did you
mean 'tasks'?" tells a client without introspection the schema field by field. This
extension validates as Strawberry does (its two extra rules included) and caches the
result per document, so a repeated query costs no validation.
"""

import functools
from collections.abc import Iterator

from graphql import DocumentNode, GraphQLError, GraphQLSchema, validate
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule


@functools.lru_cache(maxsize=512)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    return validate(
        schema,
        document,
        (*rules, MaybeNullValidationRule, OneOfInputValidationRule),
        hide_suggestions=hide_suggestions,
    )


class CachedValidation(SchemaExtension):
    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        assert execution.graphql_document is not None
        execution.pre_execution_errors = _validate(
            execution.schema._schema,
            execution.graphql_document,
            tuple(execution.validation_rules),
            self.hide_suggestions,
        )
        yield
