"""The delivery guarantees: commit order for everyone, no gaps, exact resumption, fresh data,
a stuck reader ended without loss, revocation, and no pooled connection held while idle."""

import asyncio
import base64
import gc
import json
import os
import socket as stdlib_socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets
from graphql.execution.collect_fields import CollectedFields
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from db import migrate
from db.engine import create_engine, create_session_factory
from db.services import tokens
from tests.databases import DatabaseUnderTest, fresh_database
from tests.factories import Member, make_member
from tests.leak_guard import checked_out_after_settling
from tests.live_server import PROTOCOL, LiveServer, http_client, live_server, socket
from tests.subscription_helpers import EVENTS, FAST, create_project, create_task, update_task

QUEUE = 50


@pytest.fixture(scope="module")
async def server(database: DatabaseUnderTest) -> AsyncIterator[LiveServer]:
    settings = database.settings(**FAST, events_queue_size=QUEUE)
    # No server pings: the stuck client below answers none while it does not read.
    async with live_server(settings, ws_ping_interval=None) as server:
        yield server


def seq(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor).decode().rsplit(":", 1)[1])


async def test_concurrent_writers_same_gap_free_order_for_everyone(
    server: LiveServer, member: Member
) -> None:
    writers, each = 4, 8
    async with (
        socket(server, member.token) as a,
        socket(server, member.token) as b,
        http_client(server, member.token) as gql,
    ):
        await a.subscribe("1", EVENTS)
        await a.subscribe("2", EVENTS)
        await b.subscribe("1", EVENTS)
        await a.nothing("1", 0.3)

        async def write(n: int) -> None:
            for i in range(each):
                await create_task(gql, f"writer {n} task {i}")

        await asyncio.gather(*(write(n) for n in range(writers)))
        streams = [
            [e["taskEvents"]["cursor"] for e in await sock.events(id_, writers * each)]
            for sock, id_ in [(a, "1"), (a, "2"), (b, "1")]
        ]
        await b.nothing("1", 0.5)
    assert streams[0] == streams[1] == streams[2]
    numbers = [seq(cursor) for cursor in streams[0]]
    assert numbers == list(range(numbers[0], numbers[0] + writers * each))


async def test_resume_with_after_delivers_exactly_the_rest(
    server: LiveServer, member: Member
) -> None:
    async with http_client(server, member.token) as gql:
        async with socket(server, member.token) as sock:
            await sock.subscribe("1", EVENTS)
            await sock.nothing("1", 0.3)
            for n in range(3):
                await create_task(gql, f"before {n}")
            seen = [e["taskEvents"] for e in await sock.events("1", 3)]
        # Disconnected: these happen while nobody listens.
        for n in range(4):
            await create_task(gql, f"after {n}")
        async with socket(server, member.token) as sock:
            await sock.subscribe("1", EVENTS, {"after": seen[1]["cursor"]})
            rest = [e["taskEvents"] for e in await sock.events("1", 5)]
            await sock.nothing("1", 0.5)
            await create_task(gql, "live again")
            live = (await sock.event("1"))["taskEvents"]
    assert [e["task"]["title"] for e in rest] == ["before 2"] + [f"after {n}" for n in range(4)]
    assert rest[0]["cursor"] == seen[2]["cursor"]
    assert live["task"]["title"] == "live again"


async def test_the_second_event_shows_fresh_data(server: LiveServer, member: Member) -> None:
    async with socket(server, member.token) as sock, http_client(server, member.token) as gql:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)
        task_id = await create_task(gql, "first title")
        first = (await sock.event("1"))["taskEvents"]
        await update_task(gql, task_id, title="second title")
        second = (await sock.event("1"))["taskEvents"]
    assert first["task"]["title"] == "first title"
    assert second["task"]["title"] == "second title"


def _collected_fields() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is CollectedFields)


async def test_a_long_subscription_does_not_grow_the_servers_memory(
    server: LiveServer, member: Member
) -> None:
    """graphql-core's per-event executors shared one memo of collected fields, which kept
    every event's fields for the subscription's life (a live server: same process)."""
    async with socket(server, member.token) as sock, http_client(server, member.token) as gql:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)
        for n in range(5):
            await create_task(gql, f"warm {n}")
        await sock.events("1", 5)
        gc.collect()
        before = _collected_fields()
        for n in range(40):
            await create_task(gql, f"event {n}")
        await sock.events("1", 40)
        gc.collect()
        grown = _collected_fields() - before
    assert grown < 10, grown


@pytest.mark.parametrize("dialect", ["postgresql"], indirect=True)
async def test_commit_order_not_id_order(
    server: LiveServer, member: Member, engine: AsyncEngine
) -> None:
    """A slow writer takes the lower ids first and commits last: both reach subscribers, the
    fast one first. (PostgreSQL only: SQLite runs write transactions one at a time.)"""
    async with http_client(server, member.token) as gql, socket(server, member.token) as sock:
        parent = await create_task(gql, "parent")
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)
        async with engine.connect() as blocker:
            # Holds the parent row: the slow writer's insert of a subtask waits on its FK check.
            await blocker.execute(
                text("SELECT id FROM task WHERE id = :id FOR UPDATE"), {"id": int(parent)}
            )
            slow = asyncio.create_task(
                gql(
                    "mutation($i: [CreateTaskInput!]!) { createTasks(input: $i) { id } }",
                    {"i": [{"title": "slow one"}, {"title": "slow two", "parentId": parent}]},
                )
            )
            await asyncio.sleep(0.5)
            assert not slow.done()
            fast = await create_task(gql, "fast")
            first = (await sock.event("1"))["taskEvents"]
            await blocker.rollback()
        slow_ids = [t["id"] for t in (await slow).data["createTasks"]]
        later = [e["taskEvents"] for e in await sock.events("1", 2)]
    assert int(slow_ids[0]) < int(fast)
    assert first["taskId"] == fast
    assert [e["taskId"] for e in later] == slow_ids
    assert seq(later[0]["cursor"]) == seq(first["cursor"]) + 1


async def test_revoked_token_ends_its_subscriptions(
    server: LiveServer, member: Member, engine: AsyncEngine
) -> None:
    async with socket(server, member.token) as sock:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)
        async with create_session_factory(engine)() as session, session.begin():
            await tokens.revoke(session, member.token_id)
        await asyncio.wait_for(sock.closed.wait(), 5)  # the re-check runs every 0.5 s here
        assert sock.connection.close_code == 4403


async def test_a_stuck_reader_is_ended_with_its_cursor_and_resumes_without_loss(
    server: LiveServer, member: Member
) -> None:
    hub = server.app.state.events.hub
    # A client that stops reading, behind a receive buffer that does not grow: the server's
    # sends block soon. (Above one segment, so the window reopens at once when it reads.)
    raw = stdlib_socket.create_connection((server.host, server.port))
    raw.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 128 * 1024)
    query = "subscription($after: String) { taskEvents(after: $after) { cursor changes } }"
    async with (
        websockets.connect(
            server.ws_url,
            subprotocols=[PROTOCOL],
            sock=raw,
            max_queue=1,
            compression=None,
            ping_interval=None,
        ) as stuck,
        socket(server, member.token) as healthy,
        http_client(server, member.token) as gql,
    ):
        await stuck.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {member.token}"}}
            )
        )
        assert json.loads(await stuck.recv())["type"] == "connection_ack"
        await stuck.send(json.dumps({"id": "s", "type": "subscribe", "payload": {"query": query}}))
        await healthy.subscribe("h", query)
        await healthy.nothing("h", 0.3)
        before = hub.subscriber_count
        written = 0
        # Incompressible events of about 9 KB each, until the stuck one is ended.
        while hub.subscriber_count == before and written < 3000:
            batch = [
                {
                    "title": f"t{written + i}",
                    "description": base64.b64encode(os.urandom(6600)).decode(),
                }
                for i in range(80)
            ]
            response = await gql(
                "mutation($i: [CreateTaskInput!]!) { createTasks(input: $i) { id } }", {"i": batch}
            )
            assert response.data
            written += len(batch)
        assert hub.subscriber_count == before - 1, "the stuck subscriber was never ended"
        everything = [e["taskEvents"]["cursor"] for e in await healthy.events("h", written, 60)]
        # The stuck client reads again: what was sent, then the error with its cursor.
        received: list[str] = []
        while True:
            message = json.loads(await asyncio.wait_for(stuck.recv(), 30))
            if message["type"] == "next" and not message["payload"].get("errors"):
                received.append(message["payload"]["data"]["taskEvents"]["cursor"])
                continue
            break
        error = message["payload"]["errors"][0]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
        assert error["extensions"]["cursor"] == received[-1]
        assert len(received) < written
        async with socket(server, member.token) as again:
            await again.subscribe("r", query, {"after": error["extensions"]["cursor"]})
            rest = [
                e["taskEvents"]["cursor"]
                for e in await again.events("r", written - len(received), 60)
            ]
            await again.nothing("r", 0.5)
    assert received + rest == everything


async def test_idle_subscriptions_hold_no_pooled_connection(
    database: DatabaseUnderTest, member: Member
) -> None:
    # No poll and no token re-check: what could hold a connection is the subscriptions.
    quiet = {"events_poll_interval_seconds": 60.0, "ws_auth_recheck_seconds": 60.0}
    settings = database.settings(
        **{**FAST, **quiet}, pool_size=2, max_overflow=0, pool_timeout_seconds=3
    )
    engine = create_engine(settings)
    try:
        async with (
            live_server(settings, engine=engine) as server,
            socket(server, member.token) as a,
            socket(server, member.token) as b,
            http_client(server, member.token) as gql,
        ):
            ids = [(a, str(n)) for n in range(15)] + [(b, str(n)) for n in range(15)]
            for sock, id_ in ids:
                await sock.subscribe(id_, EVENTS)
            await a.nothing("0", 0.5)
            await create_task(gql, "seen by thirty")
            for sock, id_ in ids:
                assert (await sock.event(id_))["taskEvents"]["task"]["title"] == "seen by thirty"
            # The NOTIFY sent after the commit borrows a connection for a moment; then none.
            assert await checked_out_after_settling(engine) == 0
            answers = await asyncio.gather(*(gql("{ me { handle } }") for _ in range(6)))
            assert all(answer.data["me"]["handle"] == member.handle for answer in answers)
    finally:
        await engine.dispose()


@pytest.mark.allow_error_log("the masked resolver error is logged on the server")
async def test_unexpected_resolver_errors_are_masked(dialect: str, db_dir: Path) -> None:
    """A resolver that fails unexpectedly (here: a column renamed under the server, in a
    database of this test's own) is masked and coded; the subscription goes on."""
    query = "subscription { taskEvents { taskId task { title project { name description } } } }"
    async with fresh_database(dialect, db_dir) as database:
        migration_engine = create_engine(database.settings(), for_migrations=True, poolless=True)
        await migrate.upgrade(migration_engine)
        await migration_engine.dispose()
        settings = database.settings(**FAST)
        engine = create_engine(settings)
        try:
            member = await make_member(engine)
            async with (
                live_server(settings, engine=engine) as server,
                socket(server, member.token) as sock,
                http_client(server, member.token) as gql,
            ):
                project = await create_project(gql, "masked")
                await sock.subscribe("1", query)
                await sock.nothing("1", 0.3)
                rename = "ALTER TABLE project RENAME COLUMN {} TO {}"
                async with engine.begin() as conn:
                    await conn.execute(text(rename.format("description", "description_gone")))
                await create_task(gql, "breaks the project loader", projectId=project)
                message = await sock.message("1")
                async with engine.begin() as conn:
                    await conn.execute(text(rename.format("description_gone", "description")))
                await create_task(gql, "works again", projectId=project)
                after = (await sock.event("1"))["taskEvents"]
        finally:
            await engine.dispose()
    errors = message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["INTERNAL_SERVER_ERROR"]
    assert errors[0]["message"] == "Unexpected error."
    assert "description" not in json.dumps(message)
    assert message["payload"]["data"]["taskEvents"]["task"]["project"] is None
    assert after["task"]["project"]["name"] == "Masked"
