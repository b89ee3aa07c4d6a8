"""How the `taskql ... list` commands print rows: aligned columns a person reads and
`awk`/`cut` split. Values hold no spaces except in the last column (names, labels),
times are ISO 8601 in UTC, and "-" stands for nothing (never used, not revoked)."""

from collections.abc import Sequence
from datetime import UTC, datetime

NOTHING = "-"


def moment(value: datetime | None) -> str:
    if value is None:
        return NOTHING
    # SQLite hands back naive datetimes; every stored time is UTC.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(headers), *([NOTHING if v is None else str(v) for v in row] for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers) - 1)]
    lines = []
    for line in cells:
        padded = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        lines.append("  ".join([*padded, line[-1]]).rstrip())
    return "\n".join(lines)
