"""Resolvers that hand graphql-core a loader's future instead of awaiting it themselves."""

from collections.abc import Awaitable
from typing import TypeVar, cast

T = TypeVar("T")


def deferred(value: Awaitable[T]) -> T:
    """graphql-core awaits whatever a resolver returns. Returning the DataLoader's future
    from a plain function spares the two coroutines an `async def` resolver costs per
    field, which adds up over thousands of fields. Typed as the value for Strawberry.
    (Each `load` hands out a future of its own: gql/loaders.py, `BatchLoader.load`.)"""
    return cast(T, value)


def deferred_present(value: Awaitable[T | None]) -> T:
    """`deferred` for a row a foreign key guarantees (an assignment's task and worker)."""
    return cast(T, value)
