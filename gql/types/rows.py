"""A row of the data layer as a GraphQL object, field for field as the type declares them.

The type's own declaration (mapped from the Read model) is the one list of its fields: a
field added there is read from the row by name, with no second list to keep in step.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def row_reader(cls: type[T], *, besides: tuple[str, ...] = ()) -> Callable[..., T]:
    """A function making `cls` from a row (anything with the fields as attributes), without
    validating again what the database holds. Fields in `besides` are not read from the row;
    the caller passes them by keyword."""
    names = tuple(
        field.name
        for field in dataclasses.fields(cls)  # type: ignore[arg-type]
        if field.init and field.name not in besides
    )

    def read(row: Any, **given: Any) -> T:
        return cls(**{name: getattr(row, name) for name in names}, **given)

    return read
