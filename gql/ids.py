"""GraphQL IDs are integer primary keys serialized as strings; a client may send "42"."""

import re

from db.errors import Invalid

_MAX_ID = 2**63 - 1
# ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
_ID = re.compile(r"0|[1-9][0-9]*")


def parse_id(value: object, *, field: str = "id") -> int:
    """The integer behind an ID; a malformed one is BAD_USER_INPUT."""
    text = str(value).strip()
    if _ID.fullmatch(text) and (number := int(text)) <= _MAX_ID:
        return number
    raise Invalid(f"{field}: {value!r} is not an id", field=field)


def parse_optional_id(value: object, *, field: str) -> int | None:
    """`0` (or null) for an optional id means "none"."""
    if value is None:
        return None
    number = parse_id(value, field=field)
    return None if number == 0 else number
