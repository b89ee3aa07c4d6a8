"""No string argument may hold a NUL character.

PostgreSQL cannot store U+0000 in text (it refuses the statement) and SQLite cuts
comparisons at it, so the same request would fail on one database and answer wrongly on
the other. Both ways a string reaches a resolver are checked here, before any SQL: the
literals of the document (a validation rule, cached with the document) and the values
of its variables, at any depth of input objects and lists.
"""

from collections.abc import Collection, Mapping
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule, VariableDefinitionNode

from gql.errors import Code

NUL = "\x00"
_RULE = "a string may not contain the NUL character (U+0000)"


class NoNulInStringLiterals(ValidationRule):
    def enter_string_value(self, node: StringValueNode, *_args: object) -> None:
        if NUL in node.value:
            self.report_error(
                GraphQLError(
                    f"String literal: {_RULE}",
                    node,
                    extensions={"code": Code.BAD_USER_INPUT.value},
                )
            )


def nul_variable_errors(
    definitions: Collection[VariableDefinitionNode], values: Mapping[str, Any]
) -> list[GraphQLError]:
    errors = []
    for definition in definitions:
        name = definition.variable.name.value
        if name in values and _holds_nul(values[name]):
            errors.append(
                GraphQLError(
                    f"Variable '${name}': {_RULE}",
                    definition,
                    extensions={"code": Code.BAD_USER_INPUT.value},
                )
            )
    return errors


def _holds_nul(value: Any) -> bool:
    # Variables are JSON: strings, numbers, booleans, null, lists and objects. Keys are
    # input field names, which coercion has already checked against the schema.
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(item) for item in value.values())
    return False
