"""GraphQL IDs are integer primary keys serialized as strings; a client may send "42"."""

from db.errors import Invalid

_MAX_ID = 2**63 - 1


def parse_id(value: object, *, field: str = "id") -> int:
    """The integer behind an ID; a malformed one is BAD_USER_INPUT."""
    text = str(value).strip()
    if (text.isdigit() and not (len(text) > 1 and text.startswith("0"))) or text == "0":
        number = int(text)
        if number <= _MAX_ID:
            return number
    raise Invalid(f"{field}: {value!r} is not an id", field=field)


def parse_optional_id(value: object, *, field: str) -> int | None:
    """`0` (or null) for an optional id means "none"."""
    if value is None:
        return None
    number = parse_id(value, field=field)
    return None if number == 0 else number
