"""SIGTERM under write load: `taskql serve` stops accepting, answers what it took, and exits.

Every request either gets its answer (200 with data) or has its connection refused; none is
cut without one, so a client never holds a write whose fate it cannot know. Every write that
was acknowledged is committed, and nothing else is.
"""

import asyncio
import itertools
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Task
from tests.databases import DatabaseUnderTest
from tests.factories import Member
from tests.serve_process import start_serve, wait_until_serving

GRACE_SECONDS = 10
# Enough clients, each opening a connection per request, that at the signal some
# connections are still waiting to be accepted or have not sent their request yet.
CLIENTS = 16
LOAD_SECONDS = 1.5
CREATE = "mutation ($input: [CreateTaskInput!]!) { createTasks(input: $input) { id title } }"


class Load:
    """Clients that each send writes on fresh connections until one is refused."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acknowledged: set[str] = set()
        self.cut: list[str] = []
        self.refused = 0
        self.term_at: float | None = None
        self.answered_across_term = 0

    async def client(self, number: int) -> None:
        # No keep-alive: each request opens its own connection, the way requests from many
        # clients reach a server, and the way a refusal shows.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=self.url, limits=limits, timeout=GRACE_SECONDS + 20
        ) as http:
            for seq in itertools.count():
                # Single writes and batches of 40, so that some requests take a while.
                titles = [f"c{number}-{seq}-{k}" for k in range(1 if seq % 2 else 40)]
                started = time.monotonic()
                payload: dict[str, Any] = {
                    "query": CREATE,
                    "variables": {"input": [{"title": title} for title in titles]},
                }
                try:
                    response = await http.post("/graphql", json=payload, headers=self.headers)
                except httpx.ConnectError:
                    self.refused += 1
                    return
                except httpx.TransportError as exc:
                    self.cut.append(f"{titles[0]}: {exc!r}")
                    return
                if response.status_code != 200 or response.json().get("errors"):
                    self.cut.append(f"{titles[0]}: {response.status_code} {response.text}")
                    return
                body = response.json()
                self.acknowledged |= {task["title"] for task in body["data"]["createTasks"]}
                if self.term_at is not None and started < self.term_at:
                    self.answered_across_term += 1


async def _stored_titles(engine: AsyncEngine, team_id: int) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(Task.title).where(Task.team_id == team_id))
        return set(rows.scalars())


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_under_write_load_loses_no_write(
    dialect: str,
    database: DatabaseUnderTest,
    engine: AsyncEngine,
    member: Member,
    workers: int,
    tmp_path: Path,
) -> None:
    if dialect != "postgresql":
        pytest.skip("shutdown is the HTTP server's: the database behind it changes nothing")
    served = start_serve(
        database,
        tmp_path / "serve.log",
        workers=workers,
        TASKQL_SHUTDOWN_GRACE_SECONDS=str(GRACE_SECONDS),
    )
    try:
        await asyncio.to_thread(wait_until_serving, served)
        load = Load(served.url, member.token)
        clients = [asyncio.create_task(load.client(n)) for n in range(CLIENTS)]
        await asyncio.sleep(LOAD_SECONDS)
        load.term_at = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(asyncio.gather(*clients), timeout=GRACE_SECONDS + 30)
        exit_code = await asyncio.to_thread(served.process.wait, GRACE_SECONDS + 30)
        exited_after = time.monotonic() - load.term_at
    finally:
        served.stop()

    assert load.cut == [], f"requests cut without an answer: {load.cut}\n{served.output()}"
    # uvicorn re-raises the signal once it has shut down cleanly, so a single process ends
    # "killed by SIGTERM" (as any process that honours it); the workers' parent exits 0.
    assert exit_code in (0, -signal.SIGTERM), served.output()
    assert "Application shutdown complete" in served.output()
    assert exited_after < GRACE_SECONDS + 5
    assert load.refused == CLIENTS  # every client ended on a refused connection
    # Requests in flight when the signal came were answered, not dropped.
    assert load.answered_across_term > 0
    assert load.acknowledged
    assert await _stored_titles(engine, member.team_id) == load.acknowledged
