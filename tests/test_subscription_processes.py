"""Events across server processes, a listener that loses its backend, and shutdown.

The other processes are `taskql serve` run as operators run it, in a subprocess."""

import asyncio
import contextlib
import os
import signal
import socket as stdlib_socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from db.settings import Settings
from tests.cli_process import run_taskql
from tests.conftest import settings_for
from tests.databases import DatabaseUnderTest, admin_url
from tests.factories import Member
from tests.graphql_client import GraphQLClient
from tests.live_server import LiveServer, Socket, live_server, socket
from tests.subscription_helpers import EVENTS, FAST, LISTENER_ONLY, create_task
from tests.test_recovery import Relay

TASKQL = [str(Path(sys.executable).parent / "taskql")]


def free_port() -> int:
    with stdlib_socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served(LiveServer):
    process: asyncio.subprocess.Process | None = None


@asynccontextmanager
async def served(database: DatabaseUnderTest, *args: str, poll: float) -> AsyncIterator[Served]:
    """`taskql serve` in its own process(es), until it answers /readyz."""
    port = free_port()
    env = {**os.environ, **database.environ(), "TASKQL_EVENTS_POLL_INTERVAL": str(poll)}
    proc = await asyncio.create_subprocess_exec(
        *TASKQL,
        "serve",
        "--port",
        str(port),
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    server = Served("127.0.0.1", port, None, proc)
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            deadline = time.monotonic() + 60
            while True:
                assert proc.returncode is None, "serve exited early"
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "serve did not start"
                await asyncio.sleep(0.2)
        yield server
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)


def client(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.http_url, timeout=30)


@dataclass
class Servers:
    """A subscriber's server and socket, and an HTTP client of another server process."""

    here: LiveServer
    sock: Socket
    gql: GraphQLClient


@asynccontextmanager
async def subscriber_and_writer(
    settings: Settings, database: DatabaseUnderTest, member: Member
) -> AsyncIterator[Servers]:
    """For tests where the database goes away: a live server (with `settings`) holding the
    member's socket, and a second `taskql serve` on `database` that writes (polls 60 s
    apart, so events cross only by NOTIFY)."""
    async with (
        live_server(settings) as here,
        served(database, poll=60.0) as there,
        client(there) as http,
        socket(here, member.token) as sock,
    ):
        yield Servers(here, sock, GraphQLClient(http, member.token))


async def test_events_reach_subscribers_of_another_process(
    database: DatabaseUnderTest, member: Member
) -> None:
    """PostgreSQL: NOTIFY wakes the other process (polls are 60 s apart here, so only NOTIFY
    can be in time). SQLite: the poll, within its interval."""
    postgresql = database.dialect == "postgresql"
    poll = 60.0 if postgresql else 0.5
    within = 5.0 if postgresql else poll + 1.5
    settings = database.settings(**{**FAST, "events_poll_interval_seconds": poll})
    async with (
        live_server(settings) as here,
        served(database, poll=poll) as there,
        client(there) as http,
        socket(here, member.token) as sock,
    ):
        gql = GraphQLClient(http, member.token)
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.5)
        started = time.monotonic()
        await create_task(gql, "from the other process")
        event = (await sock.event("1", within))["taskEvents"]
        assert time.monotonic() - started < within
        assert event["task"]["title"] == "from the other process"


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_sqlite_workers_see_each_others_events(
    database: DatabaseUnderTest, member: Member
) -> None:
    """`serve --workers 2` on SQLite: each process polls; every socket gets every event."""
    poll = 0.5
    async with (
        served(database, "--workers", "2", poll=poll) as server,
        client(server) as http,
        AsyncExitStack() as stack,
    ):
        gql = GraphQLClient(http, member.token)
        # Several sockets, so that both processes hold some.
        opened = [await stack.enter_async_context(socket(server, member.token)) for _ in range(4)]
        for sock in opened:
            await sock.subscribe("1", EVENTS)
        await opened[0].nothing("1", 1.0)
        titles = [f"written {n}" for n in range(3)]
        for title in titles:
            await create_task(gql, title)
        for sock in opened:
            events = await sock.events("1", 3, poll + 2)
            assert [e["taskEvents"]["task"]["title"] for e in events] == titles


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_listener_backend_killed_while_writes_go_on(
    database: DatabaseUnderTest, member: Member
) -> None:
    settings = database.settings(
        **{**FAST, "events_poll_interval_seconds": 60.0, "events_keepalive_seconds": 0.5},
    )
    async with (
        live_server(settings) as here,
        served(database, poll=60.0) as there,
        client(there) as http,
        socket(here, member.token) as sock,
    ):
        listener = here.app.state.events.listener
        gql = GraphQLClient(http, member.token)
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.5)
        assert listener.connection is not None
        killed = listener.connection.get_server_pid()
        titles = [f"write {n}" for n in range(20)]
        admin = await asyncpg.connect(
            make_url(admin_url()).set(drivername="postgresql").render_as_string(False)
        )
        try:
            for n, title in enumerate(titles):
                if n == 5:
                    assert await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
                await create_task(gql, title)
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        got = [e["taskEvents"]["task"]["title"] for e in await sock.events("1", 20, 10)]
        await sock.nothing("1", 0.5)
        assert got == titles
        assert listener.connection is not None
        assert listener.connection.get_server_pid() != killed
        assert listener.hears_others


async def test_shutdown_with_open_subscriptions_is_prompt(
    database: DatabaseUnderTest, member: Member
) -> None:
    async with served(database, poll=0.5) as server, socket(server, member.token) as sock:
        for n in range(3):
            await sock.subscribe(str(n), EVENTS)
        await sock.nothing("0", 0.3)
        assert server.process is not None
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(sock.closed.wait(), 10)
        await asyncio.wait_for(server.process.wait(), 10)
        stopped = time.monotonic() - started
    assert stopped < 3, f"serve took {stopped:.1f} s to stop"


async def test_command_line_changes_reach_subscribers(
    database: DatabaseUnderTest, member: Member
) -> None:
    """`taskql seed` is a write path too. PostgreSQL: it sends NOTIFY after its commit (polls
    are 60 s apart here); SQLite: the poll finds it."""
    postgresql = database.dialect == "postgresql"
    poll = 60.0 if postgresql else 0.5
    settings = database.settings(**{**FAST, "events_poll_interval_seconds": poll})
    async with live_server(settings) as here, socket(here, member.token) as sock:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.5)
        # A process of its own (forked with the CLI imported, tests/cli_process.py); the
        # server's loop keeps running meanwhile.
        seed = await asyncio.to_thread(
            run_taskql,
            ["seed", "--tasks", "3", "--team", member.team_slug],
            {**os.environ, **database.environ()},
            timeout=60,
        )
        assert seed.returncode == 0, seed.stderr
        events = [e["taskEvents"] for e in await sock.events("1", 6, 5 if postgresql else poll + 2)]
    assert sorted(e["action"] for e in events) == ["ASSIGNED"] * 3 + ["CREATED"] * 3
    assert all(e["actor"] is None for e in events)


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_database_away_and_back_while_writes_go_on(
    database: DatabaseUnderTest, member: Member
) -> None:
    """The server's every connection to PostgreSQL (pool and listener, through a relay of the
    test's own: the shared server is not restarted) drops for a while; another process keeps
    writing. Once the database is back, the subscriber has every event, in order."""
    url = make_url(database.url)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    await relay.up()
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(False)
    settings = settings_for(relayed, **LISTENER_ONLY)
    try:
        async with subscriber_and_writer(settings, database, member) as servers:
            sock, gql = servers.sock, servers.gql
            await sock.subscribe("1", EVENTS)
            await sock.nothing("1", 0.5)
            titles = [f"write {n}" for n in range(12)]
            for n, title in enumerate(titles):
                if n == 4:
                    await relay.down()
                if n == 8:
                    await relay.up()
                await create_task(gql, title)
                await asyncio.sleep(0.2)
            got = [e["taskEvents"]["task"]["title"] for e in await sock.events("1", 12, 15)]
            await sock.nothing("1", 0.5)
        assert got == titles
    finally:
        with contextlib.suppress(AssertionError):
            await relay.down()
