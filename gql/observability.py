"""Metrics, tracing and request logs, wired into one app in a few calls from create_app."""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.responses import Response

from db.settings import Settings
from db.statements import track_statements
from gql import metrics
from gql.observe import ObserverOptions, RequestObserver
from gql.request_record import RecordOperation
from gql.taskql_app import TaskqlApp

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

    from gql.tracing import Tracing

METRICS_PATH = "/metrics"


# FastAPI's own telemetry while taskql does not trace: otherwise it asks OpenTelemetry's
# global providers (environment lookups) on every request to find them unconfigured.
TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False}


class Observability:
    def __init__(self, settings: Settings, tracer_provider: "TracerProvider | None" = None) -> None:
        self.settings = settings
        self.tracing = _tracing(settings, tracer_provider)
        self._publisher: metrics.PoolPublisher | None = None
        self._stops: list[Callable[[], None]] = []

    @property
    def serves_metrics_route(self) -> bool:
        return self.settings.metrics and self.settings.metrics_port is None

    def schema_extensions(self) -> list[Any]:
        """First in the schema's list: the operation span wraps the other extensions."""
        tracing = [self.tracing.extension()] if self.tracing is not None else []
        return [*tracing, RecordOperation]

    def fastapi_telemetry(self) -> Any:
        return self.tracing.fastapi_telemetry() if self.tracing is not None else TELEMETRY_OFF

    def install(self, app: TaskqlApp, *, graphql_path: str, route_prefixes: list[str]) -> None:
        """The /metrics route, and the request middleware (call last: it must be outermost)."""
        if self.serves_metrics_route:

            @app.get(METRICS_PATH, include_in_schema=False)
            async def metrics_route() -> Response:
                body, content_type = metrics.exposition(self._publish)
                return Response(body, headers={"content-type": content_type})

        routes = [getattr(route, "path", "") for route in app.router.routes]
        options = ObserverOptions(
            graphql_path=graphql_path,
            routes=frozenset(
                {graphql_path, *(path for path in routes if path and "{" not in path)}
            ),
            route_prefixes=route_prefixes,
            metrics=self.settings.metrics,
            max_operation_names=self.settings.metrics_max_operation_names,
            trace_id=self._trace_id_function(),
        )
        app.add_outer_middleware(RequestObserver, options=options)

    def start(self, engine: AsyncEngine) -> None:
        self._stops.append(track_statements(engine))
        if self.settings.metrics:
            publisher = metrics.PoolPublisher(engine)
            publisher.start()
            self._publisher = publisher
            self._stops.append(publisher.stop)
            self._stops.append(metrics.forget_this_process)
        if self.tracing is not None:
            self.tracing.start(engine)
            self._stops.append(self.tracing.stop)

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()

    def _publish(self) -> None:
        if self._publisher is not None:
            self._publisher.publish()

    def _trace_id_function(self) -> Callable[[], str | None] | None:
        if self.tracing is None:
            return None
        from gql.tracing import current_trace_id

        return current_trace_id


def check_tracing_available(settings: Settings) -> None:
    """Raises TracingUnavailable when tracing is on and OpenTelemetry is not installed."""
    if settings.tracing != "off":
        _tracing_module(settings)


def _tracing_module(settings: Settings) -> Any:
    try:
        from gql import tracing
    except ImportError as exc:
        raise TracingUnavailable(
            f"TASKQL_TRACING={settings.tracing} needs the otel extra: "
            f"pip install 'taskql[otel]' ({exc.name} is missing)"
        ) from exc
    return tracing


def _tracing(settings: Settings, provider: "TracerProvider | None") -> "Tracing | None":
    if provider is None and settings.tracing == "off":
        return None
    tracing = _tracing_module(settings)
    owns = provider is None
    return tracing.Tracing(
        provider or tracing.provider_from_settings(settings),
        resolvers=settings.tracing_resolvers,
        owns_provider=owns,
    )


class TracingUnavailable(RuntimeError):
    """Tracing is switched on but OpenTelemetry is not installed."""
