"""No string argument may hold a NUL character.

PostgreSQL cannot store U+0000 in text (it refuses the statement) and SQLite cuts
comparisons at it, so the same request would fail on one database and answer wrongly on
the other. Both ways a string reaches a resolver are checked here, before any SQL: the
literals of the document (a validation rule, cached with the document) and the values
of its variables, at any depth of input objects and lists.

JSON may also escape half of a surrogate pair ("\\ud800"): such a string is not valid
Unicode, no driver can encode it, and SQLite's answered a 500. Variables holding one
are refused here too (the document's own lexer already refuses them in literals).
"""

from collections.abc import Collection, Mapping
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule, VariableDefinitionNode

from gql.errors import Code

NUL = "\x00"
_RULE = "a string may not contain the NUL character (U+0000)"
_SURROGATE_RULE = "a string may not contain an unpaired surrogate (it is not valid Unicode)"


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
        problem = _problem(values[name]) if name in values else None
        if problem is not None:
            errors.append(
                GraphQLError(
                    f"Variable '${name}': {problem}",
                    definition,
                    extensions={"code": Code.BAD_USER_INPUT.value},
                )
            )
    return errors


def _problem(value: Any) -> str | None:
    # Variables are JSON: strings, numbers, booleans, null, lists and objects. Keys are
    # input field names, which coercion has already checked against the schema.
    if isinstance(value, str):
        if NUL in value:
            return _RULE
        return None if value.isascii() or _encodable(value) else _SURROGATE_RULE
    items = value if isinstance(value, list) else value.values() if isinstance(value, dict) else ()
    for item in items:
        problem = _problem(item)
        if problem is not None:
            return problem
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
