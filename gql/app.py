"""The FastAPI application: /graphql (GraphiQL on GET), /healthz and /readyz."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from db.engine import create_engine, create_session_factory
from db.events.service import Events
from db.settings import Settings, get_settings
from gql.context import Context, RequestSession
from gql.errors import Code, format_error
from gql.graphiql import ASSETS_DIR, ASSETS_PATH, graphiql_html
from gql.http_guard import BodyGuard
from gql.schema import build_schema
from gql.socket_context import SocketContext

log = logging.getLogger("taskql")

GRAPHQL_PATH = "/graphql"


class CodedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    async def send_message(self, message: Message) -> None:
        # Strawberry's own refusals (the per-connection cap) carry no code: give them one.
        if message["type"] == "error":
            for error in message["payload"]:
                extensions = error.setdefault("extensions", {})
                extensions.setdefault("code", Code.BAD_USER_INPUT.value)
        await super().send_message(message)


class TaskqlGraphQLRouter(GraphQLRouter[Context, None]):
    _ide_html = graphiql_html()
    graphql_transport_ws_handler_class = CodedTransportWSHandler

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        # The socket's context is a SocketContext (get_context): 4403 unless its token is live.
        socket = cast(SocketContext, context)
        try:
            live = await socket.authenticate()
        except Exception:
            log.warning("authenticating a WebSocket failed", exc_info=True)
            live = False
        if not live:
            raise ConnectionRejectionError()
        return UNSET

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        return HTMLResponse(self._ide_html)

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The one place errors get their codes and unexpected ones are masked: every
        # error of a response passes here, also those raised before any extension ran
        # (a document that does not parse).
        if result.errors:
            result.errors = [format_error(error) for error in result.errors]
        return await super().process_result(request, result)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        # Decided from this response's own errors: the router's sub_response is
        # shared between concurrent requests.
        if _has_code(response_data, Code.SERVICE_UNAVAILABLE):
            response.status_code = 503
        return response


def _has_code(data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], code: Code) -> bool:
    results = data if isinstance(data, list) else [data]
    return any(
        (error.get("extensions") or {}).get("code") == code.value
        for result in results
        for error in cast(list[dict[str, Any]], result.get("errors") or [])
    )


def tune_garbage_collector() -> None:
    """A request allocates thousands of short-lived objects; with the default thresholds the
    collector runs every 700 allocations and, in its oldest generation, walks every long-lived
    object (the schema, SQLAlchemy's caches). Freezing what exists at start-up and collecting
    the young generation less often cuts the latency tail (see docs/performance.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> FastAPI:
    """The app. Tests pass their own engine; otherwise the lifespan creates one."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine or create_engine(settings)
        app.state.session_factory = create_session_factory(app.state.engine)
        app.state.events = Events(app.state.engine, settings)
        app.state.events.start()
        tune_garbage_collector()
        try:
            yield
        finally:
            await app.state.events.close()
            if owned:
                await app.state.engine.dispose()

    async def get_context(connection: HTTPConnection) -> AsyncIterator[Context | SocketContext]:
        factory: async_sessionmaker[AsyncSession] = connection.app.state.session_factory
        if isinstance(connection, WebSocket):
            # One per socket, shared by its operations: no session, no loaders in it.
            socket = SocketContext(
                settings=settings,
                session_factory=factory,
                events=connection.app.state.events,
                websocket=connection,
                header_token=bearer_token(connection),
            )
            try:
                yield socket
            finally:
                await socket.close()
            return
        async with factory() as session:
            yield Context(
                db=RequestSession(session), settings=settings, token=bearer_token(connection)
            )

    app = FastAPI(title="taskql", lifespan=lifespan, docs_url=None, redoc_url=None)
    router = TaskqlGraphQLRouter(
        build_schema(settings),
        context_getter=get_context,  # type: ignore[arg-type]  # a FastAPI dependency with yield
        path=GRAPHQL_PATH,
        # The legacy graphql-ws protocol is off: it had an authentication bypass.
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
        allowed_origins=settings.allowed_origins,
    )
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="graphiql-assets")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> Any:
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 (any failure means not ready)
            log.warning("readiness check failed: %s", exc)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return {"status": "ready"}

    app.add_middleware(BodyGuard, path=GRAPHQL_PATH, max_body_bytes=settings.max_body_bytes)
    return app
