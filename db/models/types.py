"""Column types shared by the models."""

import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


class RankedEnum(sa.types.TypeDecorator[enum.Enum]):
    """Stores an enum as its declaration index (SMALLINT).

    Ordering by the column then follows the declared order (LOW < MEDIUM < HIGH),
    which a VARCHAR would sort alphabetically, and an index can serve that order.
    """

    impl = sa.SmallInteger
    cache_ok = True

    def __init__(self, enum_cls: type[enum.Enum]) -> None:
        super().__init__()
        self.enum_cls = enum_cls
        self._members = list(enum_cls)
        self._rank = {member: rank for rank, member in enumerate(self._members)}

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if not isinstance(value, self.enum_cls):
            value = self.enum_cls[value]  # a member's name, as GraphQL spells it
        return self._rank[value]

    def process_result_value(self, value: int | None, dialect: Dialect) -> enum.Enum | None:
        return None if value is None else self._members[value]

    def rank_check(self, column: str) -> str:
        """SQL for a CHECK constraint that admits exactly the known ranks."""
        return f"{column} BETWEEN 0 AND {len(self._members) - 1}"

    def __repr__(self) -> str:
        return f"RankedEnum({self.enum_cls.__name__})"
