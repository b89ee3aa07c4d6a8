"""taskEvents over graphql-transport-ws, against a real server: actions, scope, tenancy."""

from collections.abc import AsyncIterator

import httpx
import pytest

from db.models import WorkerType
from tests.databases import DatabaseUnderTest
from tests.factories import Member, add_worker, make_member
from tests.live_server import LiveServer, http_client, live_server, socket
from tests.scrape import Samples, parse
from tests.subscription_helpers import EVENTS, FAST, create_project, create_task, update_task


@pytest.fixture(scope="module")
async def server(database: DatabaseUnderTest) -> AsyncIterator[LiveServer]:
    async with live_server(database.settings(**FAST)) as server:
        yield server


async def test_every_action_in_commit_order(server: LiveServer, member: Member, engine) -> None:
    helper = await add_worker(engine, member, handle="@helper", type=WorkerType.AGENT)
    async with socket(server, member.token) as sock, http_client(server, member.token) as gql:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)  # subscribed: from now on
        task_id = await create_task(gql, "write the docs")
        await update_task(gql, task_id, title="write the docs well", progressPercent=10)
        assign = await gql(
            "mutation($t: ID!, $w: ID!) { assignWorker(taskId: $t, workerId: $w) { role } }",
            {"t": task_id, "w": str(helper)},
        )
        assert assign.data
        unassign = await gql(
            "mutation($t: ID!, $w: ID!) { unassignWorker(taskId: $t, workerId: $w) { id } }",
            {"t": task_id, "w": str(helper)},
        )
        assert unassign.data
        deleted = await gql("mutation($id: ID!) { deleteTask(id: $id) }", {"id": task_id})
        assert deleted.data
        events = [e["taskEvents"] for e in await sock.events("1", 5)]
    assert [e["action"] for e in events] == [
        "CREATED",
        "UPDATED",
        "ASSIGNED",
        "UNASSIGNED",
        "DELETED",
    ]
    assert {e["taskId"] for e in events} == {task_id}
    assert all(e["actor"] == {"handle": member.handle} for e in events)
    assert events[1]["changes"] == {
        "title": ["write the docs", "write the docs well"],
        "progressPercent": [0, 10],
    }
    assert events[2]["worker"] == {"handle": "@helper"}
    assert events[3]["worker"] == {"handle": "@helper"}
    assert events[0]["worker"] is None
    # The task as it is at delivery: gone by the time these were sent, or still there.
    assert events[4]["task"] is None
    assert len({e["cursor"] for e in events}) == 5
    assert all(e["occurredAt"].endswith("+00:00") for e in events)


async def test_project_scope_and_a_task_moved_out(server: LiveServer, member: Member) -> None:
    async with http_client(server, member.token) as gql:
        inside = await create_project(gql, "inside")
        outside = await create_project(gql, "outside")
        async with socket(server, member.token) as sock:
            await sock.subscribe("p", EVENTS, {"projectId": inside})
            await sock.subscribe("all", EVENTS)
            await create_task(gql, "elsewhere", projectId=outside)
            task_id = await create_task(gql, "here", projectId=inside)
            await update_task(gql, task_id, projectId=outside)
            await update_task(gql, task_id, title="gone from here")
            scoped = [e["taskEvents"] for e in await sock.events("p", 2)]
            await sock.nothing("p", 1.0)
            everything = [e["taskEvents"] for e in await sock.events("all", 4)]
    assert [(e["action"], e["taskId"]) for e in scoped] == [
        ("CREATED", task_id),
        ("UPDATED", task_id),
    ]
    assert scoped[1]["changes"] == {"projectId": [inside, outside]}
    assert [e["action"] for e in everything] == ["CREATED", "CREATED", "UPDATED", "UPDATED"]


async def test_other_teams_are_silent(server: LiveServer, member: Member, engine) -> None:
    other = await make_member(engine, handle="@other")
    async with (
        socket(server, member.token) as mine,
        socket(server, other.token) as theirs,
        http_client(server, other.token) as gql,
    ):
        await mine.subscribe("1", EVENTS)
        await theirs.subscribe("1", EVENTS)
        # Subscriptions start at the stream's head when the server takes them: a write
        # committed before that is not theirs to see (the race the pooler leg lost once).
        await theirs.nothing("1", 0.3)
        await create_task(gql, "their secret")
        event = (await theirs.event("1"))["taskEvents"]
        assert event["task"]["title"] == "their secret"
        await mine.nothing("1", 1.0)


async def test_token_in_the_upgrade_header(server: LiveServer, member: Member) -> None:
    async with (
        socket(server, member.token, via_header=True) as sock,
        http_client(server, member.token) as gql,
    ):
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)
        await create_task(gql, "by header")
        assert (await sock.event("1"))["taskEvents"]["action"] == "CREATED"


async def test_graphiql_runs_subscriptions_over_the_socket(server: LiveServer) -> None:
    """GraphiQL's fetcher gets the socket's URL; its bundled graphql-ws client sends the
    headers editor's JSON as the connection_init payload."""
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        page = (await http.get("/graphql", headers={"Accept": "text/html"})).text
        bundle = (await http.get("/graphiql-assets/graphiql.min.js")).text
    assert "subscriptionUrl" in page
    assert "createWebsocketsFetcherFromUrl" in bundle and "graphql-transport-ws" in bundle


async def test_an_event_costs_a_fixed_number_of_statements(
    database: DatabaseUnderTest, member: Member, engine, gql
) -> None:
    """One statement per relationship level the selection asks for, batched by fresh loaders:
    task and actor, then the task's project and assignments (which bring their workers)."""
    from db.statements import StatementCounter

    query = """subscription { taskEvents { action actor { handle }
      task { title project { name } assignments { role worker { handle } } } } }"""
    # No poll and no token re-check while counting: only the events' own statements.
    quiet = {"events_poll_interval_seconds": 60.0, "ws_auth_recheck_seconds": 60.0}
    settings = database.settings(**{**FAST, **quiet})
    async with live_server(settings) as server, socket(server, member.token) as sock:
        await sock.subscribe("1", query)
        await sock.nothing("1", 0.3)
        project = await create_project(gql, "budget")  # through another app and engine
        helper = await add_worker(engine, member, handle="@budget")
        with StatementCounter(server.app.state.engine) as counter:
            await create_task(gql, "counted", projectId=project, assigneeIds=[str(helper)])
            created = (await sock.event("1"))["taskEvents"]
            assigned = (await sock.event("1"))["taskEvents"]
    assert created["task"]["assignments"][0]["worker"] == {"handle": "@budget"}
    assert assigned["action"] == "ASSIGNED"
    # Besides the outbox reads (one per wake-up, for all subscribers of the process) and the
    # NOTIFY that wakes other processes, each event cost its four statements.
    resolving = [
        sql
        for sql in counter.statements
        if "FROM audit_entry" not in sql and "pg_notify" not in sql
    ]
    assert len(resolving) == 2 * 4, "\n".join(resolving)


async def test_metrics_count_open_subscriptions_and_delivery_lag(
    server: LiveServer, member: Member
) -> None:
    async def scrape() -> Samples:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            return parse((await http.get("/metrics")).text)

    before = await scrape()
    async with socket(server, member.token) as sock, http_client(server, member.token) as gql:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.3)
        during = await scrape()
        assert (
            during.get("taskql_subscriptions_open") == before.get("taskql_subscriptions_open") + 1
        )
        await create_task(gql, "watched")
        await sock.events("1", 1)
        await sock.complete("1")
        await sock.nothing("1", 0.3)
    after = await scrape()
    lag_count = "taskql_subscription_delivery_lag_seconds_count"
    assert after.get(lag_count) == before.get(lag_count) + 1
    assert (
        0
        <= after.get("taskql_subscription_delivery_lag_seconds_sum")
        - before.get("taskql_subscription_delivery_lag_seconds_sum")
        < 10
    )
    assert after.get("taskql_subscriptions_open") == before.get("taskql_subscriptions_open")
