"""IDs are integer keys written as strings; anything else is BAD_USER_INPUT, never a 500."""

import pytest

from db.errors import Invalid
from gql.ids import parse_id, parse_optional_id


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("7", 7), (" 42 ", 42), (12, 12)])
def test_valid_ids(text: object, number: int) -> None:
    assert parse_id(text) == number


@pytest.mark.parametrize("text", ["", "abc", "-1", "007", "1.5", "²", "٣", "1e3", str(2**63)])
def test_malformed_ids_are_invalid(text: str) -> None:
    with pytest.raises(Invalid):
        parse_id(text, field="taskId")


def test_zero_means_none_for_optional_ids() -> None:
    assert parse_optional_id("0", field="parentId") is None
    assert parse_optional_id(None, field="parentId") is None
    assert parse_optional_id("3", field="parentId") == 3
