"""A real PostgreSQL restart while another process writes: no acknowledged write's event is
lost or repeated, and the event listener comes back.

PostgreSQL only, on a private cluster of the test's own (tests/private_postgres.py): the
suite's shared server must never be restarted. The relay test in
tests/test_subscription_processes.py cuts the connections; this one restarts the server, which
terminates every backend (pool and listener) and refuses connections while it is down.
Two more tests stop it at the moments that end a subscription (docs/subscriptions.md): between
an event's outbox read and its resolution, and while a resumed subscriber catches up.
"""

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from db import migrate
from db.engine import create_engine
from db.events.fanout import TeamFeed
from tests.conftest import settings_for
from tests.databases import DatabaseUnderTest
from tests.factories import Member, make_member
from tests.graphql_client import GraphQLClient
from tests.live_server import Socket
from tests.private_postgres import PostgresUnavailable, PrivatePostgres
from tests.private_postgres import create as create_cluster
from tests.subscription_helpers import EVENTS, LISTENER_ONLY, create_task
from tests.test_subscription_processes import subscriber_and_writer

CREATE = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }"
WRITES_BEFORE = 6  # acknowledged writes before the restart begins
WRITES_AFTER = 8  # acknowledged writes after the server is back
PAUSE = 0.1  # between writes, and between the attempts of one write
# How soon an event must arrive once the listener is back: polls are 60 s apart here.
NOTIFIED_WITHIN = 5.0


@pytest.fixture
async def cluster() -> AsyncIterator[PrivatePostgres]:
    try:
        pg = await asyncio.to_thread(create_cluster)
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and a private PostgreSQL cannot start: {exc}", pytrace=False)
        pytest.skip(f"no private PostgreSQL cluster to restart: {exc}")
    try:
        yield pg
    finally:
        await asyncio.to_thread(pg.destroy)


@pytest.fixture
async def restartable(cluster: PrivatePostgres) -> DatabaseUnderTest:
    """A migrated database in the private cluster."""
    conn = await asyncpg.connect(_dsn(cluster.url()))
    try:
        await conn.execute('CREATE DATABASE "taskql_restart"')
    finally:
        await conn.close()
    url = cluster.url("taskql_restart")
    engine = create_engine(settings_for(url), for_migrations=True, poolless=True)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()
    return DatabaseUnderTest("postgresql", url)


@pytest.fixture
async def someone(restartable: DatabaseUnderTest) -> Member:
    engine = create_engine(settings_for(restartable.url), poolless=True)
    try:
        return await make_member(engine)
    finally:
        await engine.dispose()


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


class Collector:
    """Reads one socket's events into `titles`, as a client that wants every event would:
    when the server ends the subscription with SERVICE_UNAVAILABLE and a cursor, it
    subscribes again with `after` that cursor; when it refuses the new subscription (the
    database is still away: no cursor then), it tries again shortly with its own."""

    def __init__(self, sock: Socket, first_id: str) -> None:
        self.sock = sock
        self.current = first_id
        self.titles: list[str] = []
        self.cursor: str | None = None
        self.endings: list[dict[str, Any]] = []  # errors that ended a running subscription
        self.refusals: list[dict[str, Any]] = []  # errors that refused a new one
        self.arrived = asyncio.Condition()

    async def run(self) -> None:
        while True:
            message = await self.sock.message(self.current, within=3600)
            payload = message.get("payload")
            if message["type"] == "next" and not payload.get("errors"):
                event = payload["data"]["taskEvents"]
                async with self.arrived:
                    self.titles.append(event["task"]["title"])
                    self.cursor = event["cursor"]
                    self.arrived.notify_all()
                continue
            # Anything else ends the subscription: it must say why and where to resume.
            errors = payload if message["type"] == "error" else (payload or {}).get("errors")
            assert errors and len(errors) == 1, f"not one error: {message}"
            (error,) = errors
            assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
            if message["type"] == "next":  # an error in the stream; `complete` follows
                assert (await self.sock.message(self.current, 5))["type"] == "complete"
            if "cursor" in error["extensions"]:
                # The last event this client got: nothing after it was sent.
                assert error["extensions"]["cursor"] == self.cursor, (error, self.cursor)
                self.endings.append(error)
            else:
                assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE"}, error
                self.refusals.append(error)
                await asyncio.sleep(PAUSE)
            assert self.cursor is not None, "ended before the first event: nowhere to resume"
            self.current = f"{self.current.partition('.')[0]}.{len(self.endings + self.refusals)}"
            await self.sock.subscribe(self.current, EVENTS, {"after": self.cursor})

    async def wait_for(self, reading: "asyncio.Task[None]", count: int, within: float) -> None:
        """Until `count` events arrived; a failure of the reading task is raised here."""

        async def arrived() -> None:
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.titles) >= count)

        waiting = asyncio.create_task(arrived())
        done, _ = await asyncio.wait(
            {waiting, reading}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        waiting.cancel()
        if reading in done:
            reading.result()
        if waiting not in done:
            raise AssertionError(
                f"{len(self.titles)} of {count} events within {within} s: {self.titles}"
            )


class Writer:
    """Writes through HTTP one at a time; a write the server refuses while the database is
    away (503) is tried again, under a new title, until one attempt is acknowledged."""

    def __init__(self, gql: GraphQLClient) -> None:
        self.gql = gql
        self.attempted: list[str] = []
        self.acknowledged: list[str] = []
        self.refused = 0

    async def write(self, name: str) -> None:
        for attempt in range(1000):
            title = f"{name} try {attempt}"
            self.attempted.append(title)
            if await self._attempt(title):
                self.acknowledged.append(title)
                return
            self.refused += 1
            await asyncio.sleep(PAUSE)
        raise AssertionError(f"{name} was never acknowledged")

    async def _attempt(self, title: str) -> bool:
        try:
            response = await self.gql(CREATE, {"input": {"title": title}})
        except httpx.TransportError:
            return False
        if response.status == 200 and not response.errors:
            return True
        assert (response.status, response.codes) == (503, ["SERVICE_UNAVAILABLE"]), response.body
        return False


async def committed_titles(url: str, team_id: int) -> set[str]:
    """What the database holds: an attempt refused after its commit did happen."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        rows = await conn.fetch("SELECT title FROM task WHERE team_id = $1", team_id)
    finally:
        await conn.close()
    return {row["title"] for row in rows}


@pytest.mark.parametrize("outage", [0.0, 2.0], ids=["pg_ctl-restart", "down-2s"])
async def test_postgresql_restarted_while_writes_go_on(
    cluster: PrivatePostgres, restartable: DatabaseUnderTest, someone: Member, outage: float
) -> None:
    """`pg_ctl restart -m fast`, or a stop, `outage` seconds down, and a start on the same
    port, while another server process writes one task after another."""
    settings = settings_for(restartable.url, **LISTENER_ONLY)
    async with subscriber_and_writer(settings, restartable, someone) as servers:
        sock = servers.sock
        listener = servers.here.app.state.events.listener
        writer = Writer(servers.gql)
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.5)
        assert listener.connection is not None and listener.hears_others
        listener_before = listener.connection.get_server_pid()
        collector = Collector(sock, "1")
        reading = asyncio.create_task(collector.run())
        try:
            for n in range(WRITES_BEFORE):
                await writer.write(f"before {n}")
                await asyncio.sleep(PAUSE)

            async def restart() -> None:
                if outage:
                    await cluster.stopped()
                    await asyncio.sleep(outage)
                    await cluster.started()
                else:
                    await cluster.restarted()

            restarting = asyncio.create_task(restart())
            n = 0
            while not restarting.done():
                await writer.write(f"during {n}")
                n += 1
                await asyncio.sleep(PAUSE)
            await restarting
            for n in range(WRITES_AFTER):
                await writer.write(f"after {n}")
                await asyncio.sleep(PAUSE)

            # Every attempt that committed is an event, acknowledged or not; writes are
            # sequential, so attempt order is commit order.
            committed = await committed_titles(restartable.url, someone.team_id)
            assert set(writer.acknowledged) <= committed
            expected = [title for title in writer.attempted if title in committed]
            await collector.wait_for(reading, len(expected), 15)
            await sock.nothing(collector.current, 0.5)
            assert collector.titles == expected
            assert len(set(collector.titles)) == len(collector.titles)

            # The listener is back on a new backend, and a write wakes this process by NOTIFY
            # (a poll would take 60 s).
            deadline = time.monotonic() + 15
            while not (
                listener.connection is not None
                and listener.connection.get_server_pid() != listener_before
                and listener.hears_others
            ):
                assert time.monotonic() < deadline, "the event listener did not come back"
                await asyncio.sleep(0.1)
            started = time.monotonic()
            await writer.write("after the listener is back")
            await collector.wait_for(reading, len(expected) + 1, NOTIFIED_WITHIN)
            assert time.monotonic() - started < NOTIFIED_WITHIN
            assert collector.titles[-1] == writer.acknowledged[-1]
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
    if outage:
        assert writer.refused > 0, "no write was attempted while the database was down"


async def test_database_stops_between_reading_an_event_and_resolving_it(
    cluster: PrivatePostgres,
    restartable: DatabaseUnderTest,
    someone: Member,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The event is read from the outbox, then its task cannot be: the subscriber is not sent
    a broken event (task null) but the end of its subscription, with the cursor to resume
    from, and resuming there delivers the event whole."""
    settings = settings_for(restartable.url, **LISTENER_ONLY)
    read = TeamFeed.read
    stopped = False

    async def read_then_stop(feed: TeamFeed, after: int, limit: int) -> list[Any]:
        # Not a stand-in for the database, only the moment to stop it: right after the
        # outbox read, before the event is resolved. pg_ctl blocks the event loop on
        # purpose, so nothing of the server runs in between.
        nonlocal stopped
        rows = await read(feed, after, limit)
        if rows and not stopped:
            stopped = True
            cluster.stop()
        return rows

    async with subscriber_and_writer(settings, restartable, someone) as servers:
        sock, gql = servers.sock, servers.gql
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.5)
        await create_task(gql, "whole")
        first = (await sock.event("1"))["taskEvents"]
        assert first["task"]["title"] == "whole"
        monkeypatch.setattr(TeamFeed, "read", read_then_stop)
        await create_task(gql, "resolved while away")
        ending = await sock.message("1")
        assert ending["type"] == "next"
        assert ending["payload"].get("data") is None, ending
        (error,) = ending["payload"]["errors"]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "cursor": first["cursor"]}
        assert (await sock.message("1"))["type"] == "complete"
        assert stopped

        # Resuming while the database is still away is refused, the same way, without a
        # cursor: the client keeps its own.
        await sock.subscribe("2", EVENTS, {"after": first["cursor"]})
        refused = await sock.message("2")
        assert [e["extensions"] for e in refused["payload"]["errors"]] == [
            {"code": "SERVICE_UNAVAILABLE"}
        ], refused
        assert (await sock.message("2"))["type"] == "complete"

        await cluster.started()
        await sock.subscribe("3", EVENTS, {"after": first["cursor"]})
        again = (await sock.event("3", 10))["taskEvents"]
        assert again["task"]["title"] == "resolved while away"
        await sock.nothing("3", 0.5)


async def test_database_stops_while_a_resumed_subscriber_catches_up(
    cluster: PrivatePostgres,
    restartable: DatabaseUnderTest,
    someone: Member,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A subscriber resumed from an old cursor reads the outbox itself; with the database
    away it is ended with the cursor it resumed from, not with a bare error."""
    settings = settings_for(restartable.url, **LISTENER_ONLY)
    read = TeamFeed.read
    stopped = False

    async def stop_then_read(feed: TeamFeed, after: int, limit: int) -> list[Any]:
        # Only the moment to stop the real database: just before the catch-up read.
        nonlocal stopped
        if not stopped:
            stopped = True
            cluster.stop()
        return await read(feed, after, limit)

    async with subscriber_and_writer(settings, restartable, someone) as servers:
        sock, gql = servers.sock, servers.gql
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.5)
        titles = ["one", "two", "three"]
        for title in titles:
            await create_task(gql, title)
        events = [e["taskEvents"] for e in await sock.events("1", 3)]
        assert [e["task"]["title"] for e in events] == titles
        await sock.complete("1")
        await sock.nothing("1", 0.3)

        monkeypatch.setattr(TeamFeed, "read", stop_then_read)
        await sock.subscribe("2", EVENTS, {"after": events[0]["cursor"]})
        ending = await sock.message("2")
        assert ending["type"] == "next" and ending["payload"].get("data") is None, ending
        (error,) = ending["payload"]["errors"]
        assert error["extensions"] == {"code": "SERVICE_UNAVAILABLE", "cursor": events[0]["cursor"]}
        assert (await sock.message("2"))["type"] == "complete"
        assert stopped

        await cluster.started()
        await sock.subscribe("3", EVENTS, {"after": error["extensions"]["cursor"]})
        rest = [e["taskEvents"]["task"]["title"] for e in await sock.events("3", 2)]
        assert rest == titles[1:]
        await sock.nothing("3", 0.5)
