"""OpenTelemetry tracing: a span per HTTP request (FastAPI's own), per GraphQL operation
(with its parsing and validation), optionally per resolver, and per SQL statement
(opentelemetry-instrumentation-sqlalchemy on the async engine's sync engine).

Imported only when tracing is on (TASKQL_TRACING, or a tracer provider handed to
create_app): the OpenTelemetry SDK and instrumentations are the optional `otel`
extra, and a service without tracing does not pay for loading them.
"""

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.types.execution import ExecutionContext

from db.settings import Settings
from gql.request_log import QUIET_PATHS
from gql.request_record import current_record, valid_operation

TRACER_NAME = "taskql"


def provider_from_settings(settings: Settings) -> TracerProvider:
    """The provider for TASKQL_TRACING=otlp|console; the exporter reads the standard
    OTEL_EXPORTER_OTLP_* variables, the provider OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    and OTEL_TRACES_SAMPLER(_ARG)."""
    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "taskql"}))
    provider = TracerProvider(resource=resource)
    exporter = (
        # stdout as it is now, not as it was when the SDK was imported
        ConsoleSpanExporter(out=sys.stdout) if settings.tracing == "console" else _otlp_exporter()
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _otlp_exporter() -> SpanExporter:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as exc:
            raise RuntimeError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs opentelemetry-exporter-otlp-proto-grpc"
            ) from exc
        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


class OperationTracing(OpenTelemetryExtension):
    """A span for the operation, current while it runs, so the SQL of its resolvers and
    loaders, and of its commit, nests under it. Strawberry's extension adds the parsing
    and validation spans; its per-field spans are ResolverTracing's."""

    resolve = SchemaExtension.resolve  # type: ignore[assignment]  # no per-field middleware

    def __init__(self, *, tracer: trace.Tracer) -> None:
        # Not Strawberry's __init__: it looks its tracer up again for every operation,
        # and a lookup costs more than the spans it makes. The attributes are the ones
        # its hooks use.
        self._arg_filter = None
        self._span_holder = {}
        self._tracer = tracer

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        execution = self.execution_context
        span = self._tracer.start_span("GraphQL operation", kind=SpanKind.INTERNAL)
        self._span_holder[LifecycleStep.OPERATION] = span
        attached = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            otel_context.detach(attached)
            self._finish(span, execution)

    def _finish(self, span: trace.Span, execution: ExecutionContext) -> None:
        record = current_record()
        if record is not None:
            span.set_attribute("taskql.request_id", record.request_id)
        operation = valid_operation(execution)
        if operation is not None:
            operation_type, name = operation
            span.update_name(f"{operation_type} {name}" if name else operation_type)
            span.set_attribute("graphql.operation.type", operation_type)
            if name:
                span.set_attribute("graphql.operation.name", name)
        if execution.query:
            # The document, never the variables: values a client sends travel in variables.
            span.set_attribute("graphql.document", execution.query)
        result = execution.result
        if result is not None and result.errors:
            span.set_attribute("graphql.errors.count", len(result.errors))
            # No message: before masking, one may hold a driver's SQL and parameters.
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def filter_resolver_args(self, args: dict[str, Any], info: Any) -> dict[str, Any]:
        return {}  # argument values may be secrets; the field path is enough


class ResolverTracing(OperationTracing):
    """Also a span per resolver that is not a plain attribute (TASKQL_TRACING_RESOLVERS)."""

    resolve = OpenTelemetryExtension.resolve


class Tracing:
    """Tracing wired into one app: its extensions, its engine's SQL spans, its provider."""

    def __init__(
        self, provider: trace.TracerProvider, *, resolvers: bool, owns_provider: bool
    ) -> None:
        self.provider = provider
        self.resolvers = resolvers
        self.owns_provider = owns_provider
        self._instrumentor = SQLAlchemyInstrumentor()

    def extension(self) -> Callable[[], SchemaExtension]:
        cls = ResolverTracing if self.resolvers else OperationTracing
        tracer = trace.get_tracer(TRACER_NAME, tracer_provider=self.provider)
        return lambda: cls(tracer=tracer)

    def fastapi_telemetry(self) -> dict[str, Any]:
        """FastAPI's native telemetry: the HTTP server span, continuing a caller's
        `traceparent`. Probes and scrapes are not traced."""
        return {
            "tracer_provider": self.provider,
            "metrics": False,
            "logs": False,
            # Its dependency and endpoint spans would sit between the request and the
            # operation and tell nothing the operation span does not.
            "operation_spans": False,
            "exclude": lambda scope: scope.get("path") in QUIET_PATHS,
        }

    def start(self, engine: AsyncEngine) -> None:
        # The instrumentor is one per process: a second traced app in the same process
        # (never under serve) would get no SQL spans of its own.
        if self._instrumentor.is_instrumented_by_opentelemetry:
            raise RuntimeError("SQL tracing is already on for another app in this process")
        self._instrumentor.instrument(
            engine=engine.sync_engine,
            tracer_provider=self.provider,
            enable_commenter=False,
            # The instrumentation declares SQLAlchemy < 2.1 and works on 2.1 (tested).
            skip_dep_check=True,
        )

    def stop(self) -> None:
        self._instrumentor.uninstrument()
        if self.owns_provider and isinstance(self.provider, TracerProvider):
            self.provider.shutdown()  # flushes what the batch processor holds


def current_trace_id() -> str | None:
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None
