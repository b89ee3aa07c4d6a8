"""Resolvers that hand graphql-core a loader's future instead of awaiting it themselves."""

import asyncio
from collections.abc import Awaitable
from typing import TypeVar, cast

T = TypeVar("T")


def deferred(value: Awaitable[T]) -> T:
    """graphql-core awaits whatever a resolver returns. Returning the DataLoader's future
    from a plain function spares the two coroutines an `async def` resolver costs per
    field, which adds up over thousands of fields. Typed as the value for Strawberry.

    The future is shielded: a DataLoader hands the same future to every field that asks
    for the same key, and graphql-core cancels the awaitables of a list or object whose
    sibling failed; cancelling the shared future would fail every other field waiting on
    it with a CancelledError, which no error handler catches."""
    return cast(T, _detached(value))


def deferred_present(value: Awaitable[T | None]) -> T:
    """`deferred` for a row a foreign key guarantees (an assignment's task and worker)."""
    return cast(T, _detached(value))


def _detached(value: Awaitable[T]) -> "asyncio.Future[T]":
    """A future of its own that follows the shared one; cancelling it leaves that alone.
    A failure nobody awaits any more (graphql-core gave up on the field after a sibling
    failed and reported that one) is not logged as "never retrieved"."""
    inner = asyncio.ensure_future(value)
    outer: asyncio.Future[T] = inner.get_loop().create_future()

    def follow(done: "asyncio.Future[T]") -> None:
        if done.cancelled():
            outer.cancel()
            return
        error = done.exception()  # retrieved here, whoever else awaits it
        if outer.cancelled():
            return
        if error is not None:
            outer.set_exception(error)
            outer.exception()  # reported by whoever awaits it, never as "never retrieved"
        else:
            outer.set_result(done.result())

    inner.add_done_callback(follow)
    return outer
