"""The FastAPI application: /graphql (GraphiQL on GET), /healthz, /readyz and /metrics."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import orjson
from cross_web import HTTPException
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
from db.session import RequestSession, write_gate_for
from db.settings import Settings, get_settings
from db.token_refresh import TokenRefresher
from gql.context import Context
from gql.errors import BUSY_MESSAGE, Code, format_error
from gql.graphiql import ASSETS_DIR, ASSETS_PATH, graphiql_html
from gql.http_errors import install_refusals, strawberry_refusal
from gql.http_guard import NESTED_TOO_DEEPLY, BodyGuard
from gql.known_reads import KnownReads
from gql.loaders import build_loaders
from gql.observability import TELEMETRY_OFF, Observability
from gql.request_record import note_errors
from gql.schema import build_schema
from gql.socket_context import SocketContext
from gql.taskql_app import TaskqlApp

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

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

    async def run(  # type: ignore[override]  # one body for both of the base's overloads
        self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response | WebSocket:
        # Every HTTPException of Strawberry's view passes through run: answering them here
        # covers the refusals of today's and tomorrow's code paths alike.
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            return strawberry_refusal(exc, request.scope.get("method", ""))

    def decode_json(self, data: str | bytes) -> object:
        # json.loads raises RecursionError past the interpreter's limit: the query
        # string's variables (and a body at the edge of what the guard accepted).
        try:
            return super().decode_json(data)
        except RecursionError:
            raise HTTPException(400, NESTED_TOO_DEEPLY) from None

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        # The one place errors get their codes and unexpected ones are masked: every
        # error of a response passes here, also those raised before any extension ran
        # (a document that does not parse).
        if result.errors:
            result.errors = [format_error(error) for error in result.errors]
            note_errors(result.errors)
        return await super().process_result(request, result)

    def encode_json(self, data: object) -> str:
        """orjson: the same compact JSON as Strawberry's json.dumps, several times faster
        on large answers; text is UTF-8 rather than \\u escapes (JSON either way). A str,
        not bytes: Strawberry sends bytes over the WebSocket as binary frames, which
        graphql-transport-ws clients do not read."""
        return orjson.dumps(data).decode()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        # Decided from this response's own errors: the router's sub_response is
        # shared between concurrent requests.
        unavailable = _errors_with_code(response_data, Code.SERVICE_UNAVAILABLE)
        if unavailable:
            response.status_code = 503
            busy = any(error.get("message") == BUSY_MESSAGE for error in unavailable)
            response.headers["Retry-After"] = "1" if busy else "5"
        return response


def _errors_with_code(
    data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], code: Code
) -> list[dict[str, Any]]:
    results = data if isinstance(data, list) else [data]
    return [
        error
        for result in results
        for error in cast(list[dict[str, Any]], result.get("errors") or [])
        if (error.get("extensions") or {}).get("code") == code.value
    ]


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


def create_app(
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    *,
    tracer_provider: "TracerProvider | None" = None,
    observed: bool = True,
) -> FastAPI:
    """The app. Tests pass their own engine (and tracer provider); otherwise the lifespan
    creates one (and TASKQL_TRACING says whether to trace). An app that is not `observed`
    adds nothing to the process's metrics, request logs or traces: the test suite's second
    app, which answers every read again to compare the two read paths, is not traffic."""
    settings = settings or get_settings()
    observability = Observability(settings, tracer_provider) if observed else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = engine is None
        app.state.engine = engine or create_engine(settings)
        app.state.session_factory = create_session_factory(app.state.engine)
        app.state.write_gate = write_gate_for(
            app.state.engine, settings.sqlite_write_queue_timeout_seconds
        )
        app.state.token_refresher = TokenRefresher(
            app.state.session_factory,
            app.state.write_gate,
            touch_interval=timedelta(seconds=settings.token_touch_interval_seconds),
            cache_seconds=settings.token_cache_seconds,
        )
        if observability is not None:
            observability.start(app.state.engine)
        app.state.events = Events(app.state.engine, settings)
        app.state.events.start()
        tune_garbage_collector()
        try:
            yield
        finally:
            await app.state.events.close()
            await app.state.token_refresher.close()
            if observability is not None:
                observability.stop()
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
        db = RequestSession(factory(), write_gate=connection.app.state.write_gate)
        try:
            yield Context(
                db=db,
                settings=settings,
                token=bearer_token(connection),
                refresher=connection.app.state.token_refresher,
                make_loaders=build_loaders,
            )
        finally:
            # Usually ended already by the operation boundary; this covers every other
            # path (a document that never executed, a cancelled request).
            await db.close()

    app = TaskqlApp(
        title="taskql",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=observability.fastapi_telemetry() if observability is not None else TELEMETRY_OFF,
    )
    router = TaskqlGraphQLRouter(
        build_schema(
            settings,
            extensions_before=observability.schema_extensions() if observability else [],
        ),
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

    install_refusals(app, graphql_path=GRAPHQL_PATH)
    # Inside the body guard (it answers a body it refuses) and the observer (a repeated
    # read is logged and measured like any other). Off while anything asks for the full
    # path's per-field work: tracing spans, or the planner switched off.
    app.add_outer_middleware(
        KnownReads,
        path=GRAPHQL_PATH,
        size=(
            settings.known_reads
            if settings.planner
            and not settings.tracing_resolvers
            and (observability is None or observability.tracing is None)
            else 0
        ),
        statement_timeout_ms=settings.statement_timeout_ms,
        metrics=observability is not None and settings.metrics,
    )
    app.add_outer_middleware(BodyGuard, path=GRAPHQL_PATH, max_body_bytes=settings.max_body_bytes)
    if observability is not None:
        observability.install(app, graphql_path=GRAPHQL_PATH, route_prefixes=[ASSETS_PATH])
    return app
