"""A real uvicorn server on the test's own event loop, and a graphql-transport-ws client.

Subscriptions are tested against the real thing: starlette's TestClient runs the app on
another loop, which hides what a socket shares with the process.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection

from db.settings import Settings
from gql.app import create_app
from tests.graphql_client import GraphQLClient

PROTOCOL = "graphql-transport-ws"


@dataclass
class LiveServer:
    host: str
    port: int
    app: Any

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/graphql"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@asynccontextmanager
async def live_server(
    settings: Settings, engine: AsyncEngine | None = None, **uvicorn_options: Any
) -> AsyncIterator[LiveServer]:
    app = create_app(settings, engine=engine)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        ws_max_size=settings.max_body_bytes,
        timeout_graceful_shutdown=5,
        **uvicorn_options,
    )
    server = uvicorn.Server(config)
    # The test owns the process's signals; uvicorn must not take them over.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield LiveServer("127.0.0.1", port, app)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


@asynccontextmanager
async def http_client(server: LiveServer, token: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        yield GraphQLClient(http, token)


class Socket:
    """One graphql-transport-ws connection."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._inboxes: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.connection.send(json.dumps(message))
        return _message(await self.connection.recv())

    def start_reading(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.connection:
                message = _message(raw)
                if "id" in message:
                    await self._inbox(message["id"]).put(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()

    def _inbox(self, id_: str) -> asyncio.Queue[dict[str, Any]]:
        return self._inboxes.setdefault(id_, asyncio.Queue())

    async def subscribe(
        self, id_: str, query: str, variables: dict[str, Any] | None = None
    ) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.connection.send(json.dumps({"id": id_, "type": "subscribe", "payload": payload}))

    async def complete(self, id_: str) -> None:
        await self.connection.send(json.dumps({"id": id_, "type": "complete"}))

    async def message(self, id_: str, within: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self._inbox(id_).get(), within)

    async def event(self, id_: str, within: float = 10) -> dict[str, Any]:
        """The data of the next `next` message; fails on anything else."""
        message = await self.message(id_, within)
        assert message["type"] == "next", message
        assert not message["payload"].get("errors"), message
        return message["payload"]["data"]

    async def events(self, id_: str, count: int, within: float = 15) -> list[dict[str, Any]]:
        return [await self.event(id_, within) for _ in range(count)]

    async def nothing(self, id_: str, wait: float) -> None:
        """No message for this subscription within `wait` seconds."""
        try:
            message = await asyncio.wait_for(self._inbox(id_).get(), wait)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected message: {message}")

    async def close(self) -> None:
        await self.connection.close()
        if self._reader is not None:
            await self._reader


@asynccontextmanager
async def socket(
    server: LiveServer,
    token: str | None,
    *,
    via_header: bool = False,
    subprotocol: str = PROTOCOL,
    **connect_args: Any,
) -> AsyncIterator[Socket]:
    """A connected, acknowledged socket (the token in connection_init, or in the header)."""
    headers = {"Authorization": f"Bearer {token}"} if via_header and token else {}
    async with websockets.connect(
        server.ws_url,
        subprotocols=[subprotocol],  # type: ignore[list-item]
        additional_headers=headers,
        **connect_args,
    ) as connection:
        sock = Socket(connection)
        payload = {"Authorization": f"Bearer {token}"} if token and not via_header else {}
        ack = await sock.init(payload)
        assert ack["type"] == "connection_ack", ack
        sock.start_reading()
        try:
            yield sock
        finally:
            await sock.close()


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[int]:
    """Serve an app built by the test (lifespan included) on 127.0.0.1; yields the port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


def _message(raw: str | bytes) -> dict[str, Any]:
    """graphql-transport-ws messages are text frames: browsers' and Node's clients take a
    binary frame for something else."""
    assert isinstance(raw, str), f"a binary frame: {raw[:80]!r}"
    message: dict[str, Any] = json.loads(raw)
    return message
