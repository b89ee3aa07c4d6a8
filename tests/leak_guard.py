"""Fails any test after which a pooled connection is still checked out, or after which
something logged an error nobody handled (an exception in the ASGI app, a task's
exception never retrieved, a connection the garbage collector had to clean up).

Loaded for the whole suite from conftest.py, so a leak is caught by whichever test
provokes it, not only by tests written to look for one.
"""

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from db import session as request_session

# How long a test's connections may take to come home after it ends: endings that a
# cancelled request left running finish in the background.
SETTLE_SECONDS = 5.0

# The logger of gql/errors.py, which logs every error it masks for the client.
MASKED_ERROR_LOGGER = "taskql.errors"

_checked_out: dict[int, str] = {}


@event.listens_for(Pool, "checkout")
def _on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
    _checked_out[id(record)] = repr(record)


@event.listens_for(Pool, "checkin")
def _on_checkin(_dbapi: Any, record: Any) -> None:
    _checked_out.pop(id(record), None)


@event.listens_for(Pool, "detach")
def _on_detach(_dbapi: Any, record: Any) -> None:
    _checked_out.pop(id(record), None)


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_errors = _ErrorRecords()
# uvicorn's loggers do not propagate to the root logger.
_WATCHED_LOGGERS = ("", "uvicorn", "uvicorn.error")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_error_log(reason): the test provokes an unexpected error, which the service "
        "masks and logs on purpose",
    )
    for name in _WATCHED_LOGGERS:
        logging.getLogger(name).addHandler(_errors)


@pytest.fixture(autouse=True)
async def no_leaked_connections_or_unhandled_errors(
    request: pytest.FixtureRequest,
) -> AsyncIterator[None]:
    _errors.records.clear()
    yield
    deadline = time.monotonic() + SETTLE_SECONDS
    # Pool events are synchronous callbacks with no event to wait on: poll.
    while (_checked_out or request_session._endings) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    # Unretrieved task exceptions and abandoned connections are reported when collected.
    gc.collect()
    await asyncio.sleep(0)
    leaked = list(_checked_out.values())
    _checked_out.clear()
    # A marked test may provoke the one error the service logs on purpose: a masked one.
    allowed = MASKED_ERROR_LOGGER if request.node.get_closest_marker("allow_error_log") else None
    errors = [r for r in _errors.records if r.name != allowed]
    _errors.records.clear()
    problems = [f"pooled connection still checked out: {entry}" for entry in leaked]
    problems += [f"{r.name}: {r.getMessage()}" for r in errors]
    if problems:
        pytest.fail("after the test:\n" + "\n".join(problems), pytrace=False)


async def checked_out_after_settling(engine: Any, seconds: float = 3.0) -> int:
    """The engine's checked-out connections once background work that borrows one for a
    moment (a NOTIFY after a commit, a token refreshed ahead of its expiry) has had
    `seconds` to give it back; a connection a request leaked is still counted."""
    for _ in range(int(seconds / 0.05)):
        if not engine.pool.checkedout():
            break
        await asyncio.sleep(0.05)
    return int(engine.pool.checkedout())
