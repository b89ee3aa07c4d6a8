"""Task event cursors: opaque to clients, bound to the team whose stream they point into."""

import base64
import binascii
import re

from db.errors import Invalid

_PREFIX = "taskEvent"
_FORMAT = re.compile(r"taskEvent:(\d{1,18}):(\d{1,18})")


def encode(team_id: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}:{team_id}:{seq}".encode()).decode()


def decode(cursor: str, team_id: int) -> int:
    """The sequence number after which to resume; anything else is BAD_USER_INPUT."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    found = _FORMAT.fullmatch(text)
    if found is None or int(found.group(1)) != team_id:
        raise Invalid("after: not a cursor of this team's task events", field="after")
    return int(found.group(2))
