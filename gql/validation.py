"""Document validation, cached, with suggestions hidden when introspection is off.

Strawberry's ValidationCache cannot pass graphql-core's `hide_suggestions`, and "Did you
mean 'tasks'?" tells a client without introspection the schema field by field. This
extension validates as Strawberry does (its two extra rules included) and caches the
result per document, so a repeated query costs no validation.

Before it, a linear walk refuses a selection set that repeats one response name many
times: graphql-core's OverlappingFieldsCanBeMerged compares such fields pairwise, and
a few hundred kilobytes of `me { handle }` held the event loop for seconds.
"""

import functools
from collections import Counter
from collections.abc import Iterator

from graphql import (
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

# No client needs one field this often in one selection set (inline fragments included).
MAX_REPEATS = 20


def _response_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """The response names of a selection set, inline fragments flattened."""
    pending = [selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                yield (selection.alias or selection.name).value
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)


def repeated_field(document: DocumentNode) -> GraphQLError | None:
    """An error for the first selection set that repeats a response name too often."""
    pending = [
        definition.selection_set
        for definition in document.definitions
        if isinstance(definition, ExecutableDefinitionNode)
    ]
    while pending:
        selection_set = pending.pop()
        counts = Counter(_response_names(selection_set))
        name, times = counts.most_common(1)[0] if counts else ("", 0)
        if times > MAX_REPEATS:
            return GraphQLError(
                f"the selection of '{name}' repeats {times} times in one selection set;"
                f" at most {MAX_REPEATS} are allowed"
            )
        for selection in selection_set.selections:
            inner = getattr(selection, "selection_set", None)
            if inner is not None:
                pending.append(inner)
    return None


@functools.lru_cache(maxsize=512)
def _validate(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    repeated = repeated_field(document)
    if repeated is not None:
        return [repeated]
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
