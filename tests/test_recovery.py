"""The service recovers by itself when PostgreSQL comes back.

A TCP relay of our own stands between the app and PostgreSQL; closing it is the
database going away as far as the app can tell, without touching the shared server.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from db.engine import create_engine
from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.factories import Member
from tests.graphql_client import GraphQLClient


class Relay:
    """Forwards 127.0.0.1:<port> to the real server while up; refuses while down."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _serve(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        self._writers |= {client_writer, server_writer}

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
        self._writers -= {client_writer, server_writer}


@pytest.fixture
async def relayed(
    dialect: str, database: DatabaseUnderTest
) -> AsyncIterator[tuple[Relay, httpx.AsyncClient]]:
    if dialect == "sqlite":
        pytest.skip("an embedded SQLite file cannot go away")
    url = make_url(database.url)
    relay = Relay(url.host or "127.0.0.1", url.port or 5432)
    await relay.up()
    settings = database.settings(
        database_url=url.set(host="127.0.0.1", port=relay.port).render_as_string(False),
        connect_timeout_seconds=2,
    )
    engine = create_engine(settings)
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        yield relay, http
    await engine.dispose()
    with contextlib.suppress(AssertionError):
        await relay.down()


async def test_readyz_and_graphql_recover_when_the_database_returns(
    relayed: tuple[Relay, httpx.AsyncClient], member: Member
) -> None:
    relay, http = relayed
    gql = GraphQLClient(http, member.token)
    assert (await http.get("/readyz")).status_code == 200
    assert (await gql("{ me { handle } }")).data == {"me": {"handle": member.handle}}

    await relay.down()
    assert (await http.get("/readyz")).status_code == 503
    down = await gql("{ me { handle } }")
    assert down.status == 503 and down.codes == ["SERVICE_UNAVAILABLE"]

    await relay.up()
    assert (await http.get("/readyz")).status_code == 200
    assert (await gql("{ me { handle } }")).data == {"me": {"handle": member.handle}}
