"""What the socket refuses: every close code, operations that are not subscriptions, bad
arguments, limits. Each against a real server, on both databases."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_session_factory
from db.services import tokens
from tests.databases import DatabaseUnderTest
from tests.factories import Member, make_member
from tests.live_server import PROTOCOL, LiveServer, http_client, live_server, socket
from tests.subscription_helpers import EVENTS, FAST, create_project, create_task


@pytest.fixture(scope="module")
async def server(database: DatabaseUnderTest) -> AsyncIterator[LiveServer]:
    settings = database.settings(
        **FAST, max_body_bytes=64 * 1024, allowed_origins=["https://app.example"]
    )
    async with live_server(settings) as server:
        yield server


async def close_code(server: LiveServer, messages: list[dict[str, Any]], **connect: Any) -> int:
    """Send the messages and return the code the server closes the socket with."""
    async with websockets.connect(
        server.ws_url,
        subprotocols=[connect.pop("subprotocol", PROTOCOL)],
        **connect,
    ) as ws:
        for message in messages:
            await ws.send(json.dumps(message))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def init(token: str | None) -> dict[str, Any]:
    return {
        "type": "connection_init",
        "payload": {"Authorization": f"Bearer {token}"} if token else {},
    }


async def test_missing_unknown_and_revoked_tokens_get_4403(
    server: LiveServer, member: Member, engine: AsyncEngine
) -> None:
    assert await close_code(server, [init(None)]) == 4403
    assert await close_code(server, [init("tq_not-a-token")]) == 4403
    assert (
        await close_code(server, [{"type": "connection_init", "payload": {"Authorization": 7}}])
        == 4403
    )
    async with create_session_factory(engine)() as session, session.begin():
        await tokens.revoke(session, member.token_id)
    assert await close_code(server, [init(member.token)]) == 4403


async def test_protocol_close_codes(server: LiveServer, member: Member) -> None:
    # The legacy graphql-ws protocol is not spoken at all.
    assert await close_code(server, [], subprotocol="graphql-ws") == 4406
    # No connection_init within the init timeout (1 s here).
    assert await close_code(server, []) == 4408
    subscribe = {"id": "1", "type": "subscribe", "payload": {"query": EVENTS}}
    assert await close_code(server, [subscribe]) == 4401
    assert await close_code(server, [init(member.token), subscribe, subscribe]) == 4409
    assert await close_code(server, [init(member.token), init(member.token)]) == 4429


async def test_messages_are_bounded_like_http_bodies(server: LiveServer, member: Member) -> None:
    big = {"id": "1", "type": "subscribe", "payload": {"query": EVENTS + " " * 70_000}}
    assert await close_code(server, [init(member.token), big]) == 1009


async def test_browsers_of_other_origins_need_to_be_allowed(
    server: LiveServer, member: Member
) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            server.ws_url, subprotocols=[PROTOCOL], origin="https://evil.example"
        ):
            pass
    assert refused.value.response.status_code == 403
    async with socket(server, member.token, origin="https://app.example") as sock:
        await sock.subscribe("1", EVENTS)
        await sock.nothing("1", 0.2)


def codes(message: dict[str, Any]) -> list[str]:
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    return [error["extensions"]["code"] for error in errors]


async def refusal(sock: Any, query: str, variables: dict[str, Any] | None = None) -> list[str]:
    await sock.subscribe("r", query, variables)
    message = await sock.message("r")
    assert message["type"] in {"error", "next"}, message
    found = codes(message)
    if message["type"] == "next":
        assert (await sock.message("r"))["type"] == "complete"
    return found


async def test_queries_and_mutations_over_the_socket_are_bad_user_input(
    server: LiveServer, member: Member
) -> None:
    async with socket(server, member.token) as sock, http_client(server, member.token) as gql:
        assert await refusal(sock, "{ me { handle } }") == ["BAD_USER_INPUT"]
        create = 'mutation { createProject(input: {name: "X", slug: "via-socket"}) { id } }'
        assert await refusal(sock, create) == ["BAD_USER_INPUT"]
        projects = await gql("{ projects { totalCount } }")
        assert projects.data["projects"]["totalCount"] == 0


async def test_bad_arguments(server: LiveServer, member: Member, engine: AsyncEngine) -> None:
    other = await make_member(engine, handle="@other")
    async with (
        http_client(server, other.token) as theirs,
        http_client(server, member.token) as mine,
        socket(server, member.token) as sock,
        socket(server, other.token) as other_sock,
    ):
        their_project = await create_project(theirs, "theirs")
        assert await refusal(sock, EVENTS, {"projectId": their_project}) == ["NOT_FOUND"]
        assert await refusal(sock, EVENTS, {"projectId": "x"}) == ["BAD_USER_INPUT"]
        assert await refusal(sock, EVENTS, {"after": "not a cursor"}) == ["BAD_USER_INPUT"]
        # A real cursor of another team's stream, and one past the end of this team's.
        await other_sock.subscribe("1", EVENTS)
        await other_sock.nothing("1", 0.3)
        await create_task(theirs, "theirs")
        their_cursor = (await other_sock.event("1"))["taskEvents"]["cursor"]
        assert await refusal(sock, EVENTS, {"after": their_cursor}) == ["BAD_USER_INPUT"]
        await create_task(mine, "mine")
        await sock.subscribe("2", EVENTS, {"after": None})
        await sock.nothing("2", 0.3)
        await create_task(mine, "mine too")
        cursor = (await sock.event("2"))["taskEvents"]["cursor"]
        import base64

        team, seq = base64.urlsafe_b64decode(cursor).decode().split(":")[1:]
        future = base64.urlsafe_b64encode(f"taskEvent:{team}:{int(seq) + 5}".encode()).decode()
        assert await refusal(sock, EVENTS, {"after": future}) == ["BAD_USER_INPUT"]


async def test_depth_and_row_limits_apply(server: LiveServer, member: Member) -> None:
    deep = "subscription { taskEvents { task { " + "parent { " * 12 + "id" + " }" * 12 + " } } }"
    wide = (
        "subscription { taskEvents { task { subtasks(first: 100) { nodes { "
        "subtasks(first: 100) { nodes { subtasks(first: 100) { nodes { id } } } } } } } } }"
    )
    async with socket(server, member.token) as sock:
        assert await refusal(sock, deep) == ["BAD_USER_INPUT"]
        assert await refusal(sock, wide) == ["BAD_USER_INPUT"]


async def test_subscriptions_per_connection_are_capped(server: LiveServer, member: Member) -> None:
    async with socket(server, member.token) as sock:
        for n in range(20):
            await sock.subscribe(str(n), EVENTS)
        await sock.subscribe("one too many", EVENTS)
        message = await sock.message("one too many")
        assert codes(message) == ["BAD_USER_INPUT"]
        await sock.nothing("0", 0.2)


async def test_subscriptions_per_process_are_capped(
    database: DatabaseUnderTest, member: Member
) -> None:
    settings = database.settings(**FAST, ws_max_subscriptions=2)
    async with live_server(settings) as server, socket(server, member.token) as sock:
        await sock.subscribe("1", EVENTS)
        await sock.subscribe("2", EVENTS)
        await sock.nothing("1", 0.3)
        assert await refusal(sock, EVENTS) == ["SERVICE_UNAVAILABLE"]
        await sock.complete("1")
        await asyncio.sleep(0.3)
        await sock.subscribe("3", EVENTS)
        await sock.nothing("3", 0.3)  # a place came free: no refusal


async def test_a_subscription_over_http_is_bad_user_input(gql: Any) -> None:
    response = await gql("subscription { taskEvents { cursor } }")
    assert response.status == 200
    assert response.codes == ["BAD_USER_INPUT"]
