"""Tracing with the OpenTelemetry SDK's in-memory exporter: an operation span per request,
SQL spans inside it, resolver spans on request, and no OpenTelemetry cost when off."""

import json
import logging
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from db.engine import create_engine
from db.settings import Settings
from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.factories import Member, add_project, add_task, make_member

SECRET = "s3cr3t-value-never-exported"

NESTED = """
query NestedTasks($title: String!) {
  tasks(where: {title: {contains: $title}}, first: 10) {
    nodes { id title project { name } subtasks(first: 5) { nodes { id title } } }
  }
}
"""


@asynccontextmanager
async def traced_client(
    settings: Settings, provider: TracerProvider | None
) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(settings)
    app = create_app(settings, engine=engine, tracer_provider=provider)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as http,
        ):
            yield http
    finally:
        await engine.dispose()


def in_memory() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def seed_tree(database: DatabaseUnderTest) -> Member:
    engine = create_engine(database.settings())
    try:
        member = await make_member(engine)
        project = await add_project(engine, member, slug="traced")
        for n in range(3):
            root = await add_task(engine, member, title=f"root {n}", project_id=project)
            await add_task(engine, member, title=f"child {n}", project_id=project, parent_id=root)
    finally:
        await engine.dispose()
    return member


def statement_of(span: ReadableSpan) -> str | None:
    attributes = span.attributes or {}
    value = attributes.get("db.query.text", attributes.get("db.statement"))
    return str(value) if value is not None else None


def ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> Iterator[ReadableSpan]:
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        yield span


def all_attribute_text(spans: list[ReadableSpan]) -> str:
    return json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes or {}),
                "status": s.status.description,
                "events": [(e.name, dict(e.attributes or {})) for e in s.events],
            }
            for s in spans
        ],
        default=str,
    )


async def test_a_nested_query_has_an_operation_span_with_its_sql_inside(
    database: DatabaseUnderTest,
) -> None:
    member = await seed_tree(database)
    provider, exporter = in_memory()
    async with traced_client(database.settings(), provider) as http:
        response = await http.post(
            "/graphql",
            json={"query": NESTED, "variables": {"title": "root"}},
            headers={"Authorization": f"Bearer {member.token}"},
        )
        assert response.status_code == 200
        nodes = response.json()["data"]["tasks"]["nodes"]
        assert len(nodes) == 3 and all(len(n["subtasks"]["nodes"]) == 1 for n in nodes)

    spans = list(exporter.get_finished_spans())
    by_id = {span.context.span_id: span for span in spans}
    (operation,) = [s for s in spans if s.name == "query NestedTasks"]
    attributes = operation.attributes or {}
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["graphql.operation.name"] == "NestedTasks"
    assert "taskql.request_id" in attributes

    sql = [s for s in spans if s.kind == SpanKind.CLIENT and statement_of(s)]
    work = [s for s in sql if not str(statement_of(s)).lstrip().upper().startswith("BEGIN")]
    # The token lookup, the tasks page, their projects, their subtasks: each under the operation.
    assert len(work) >= 4, [statement_of(s) for s in sql]
    for span in sql:
        if "pg_notify" in str(statement_of(span)):
            continue  # the process's coalesced wake-up for subscribers, sent after the commit
        assert operation in list(ancestors(span, by_id)), (span.name, statement_of(span))
    assert any("task" in str(statement_of(s)).lower() for s in work)

    # FastAPI's HTTP span holds the operation.
    http_spans = [s for s in spans if s.kind == SpanKind.SERVER]
    assert http_spans and http_spans[0] in list(ancestors(operation, by_id))


async def test_spans_carry_statements_but_no_values(database: DatabaseUnderTest) -> None:
    member = await seed_tree(database)
    provider, exporter = in_memory()
    settings = database.settings(tracing_resolvers=True)
    async with traced_client(settings, provider) as http:
        response = await http.post(
            "/graphql",
            json={"query": NESTED, "variables": {"title": SECRET}},
            headers={"Authorization": f"Bearer {member.token}"},
        )
        assert response.json()["data"]["tasks"]["nodes"] == []
    spans = list(exporter.get_finished_spans())
    text = all_attribute_text(spans)
    assert SECRET not in text
    assert member.token not in text
    # The statement is there, with placeholders where the values went.
    assert any("like" in str(statement_of(s)).lower() for s in spans)
    # Resolver spans when asked for, without argument values.
    resolvers = [s for s in spans if s.name.startswith("GraphQL Resolving")]
    assert {"GraphQL Resolving: tasks"} <= {s.name for s in resolvers}
    assert not any(k.startswith("graphql.param") for s in resolvers for k in (s.attributes or {}))


async def test_resolver_spans_are_off_by_default_and_traceparent_is_continued(
    database: DatabaseUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskql.request")
    member = await seed_tree(database)
    provider, exporter = in_memory()
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    async with traced_client(database.settings(), provider) as http:
        response = await http.post(
            "/graphql",
            json={"query": "{ me { handle } }"},
            headers={
                "Authorization": f"Bearer {member.token}",
                "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01",
            },
        )
        assert response.json()["data"]["me"]["handle"] == "@tester"
    spans = list(exporter.get_finished_spans())
    assert not [s for s in spans if s.name.startswith("GraphQL Resolving")]
    (operation,) = [s for s in spans if s.name == "query"]
    assert f"{operation.context.trace_id:032x}" == trace_id
    # The request's log line names the trace.
    (line,) = [r for r in caplog.records if r.name == "taskql.request"]
    assert f"trace_id={trace_id}" in line.getMessage()


async def test_failed_operations_are_marked(database: DatabaseUnderTest) -> None:
    provider, exporter = in_memory()
    async with traced_client(database.settings(), provider) as http:
        await http.post("/graphql", json={"query": "query Broken { me { nope } }"})
        await http.post("/graphql", json={"query": "{ me { handle } }"})  # no token
    spans = list(exporter.get_finished_spans())
    operations = [s for s in spans if s.name in ("GraphQL operation", "query")]
    assert len(operations) == 2
    assert all(not s.status.is_ok for s in operations)
    # A document that did not validate has no operation type or name.
    assert "graphql.operation.name" not in (operations[0].attributes or {})


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


async def test_taskql_tracing_otlp_exports_to_the_configured_endpoint(
    database: DatabaseUnderTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TASKQL_TRACING=otlp with the standard OTEL_* variables, to a real HTTP collector."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Collector.received = []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "taskql-under-test")
    member = await seed_tree(database)
    try:
        # No provider passed: the app builds its own from the settings and shuts it down
        # (flushing the batch) with the lifespan.
        async with traced_client(database.settings(tracing="otlp"), None) as http:
            response = await http.post(
                "/graphql",
                json={"query": "query Who { me { handle } }"},
                headers={"Authorization": f"Bearer {member.token}"},
            )
            assert response.json()["data"]["me"]["handle"] == "@tester"
    finally:
        server.shutdown()
        thread.join()
    assert _Collector.received, "nothing was exported"
    names = set()
    services = set()
    for path, body in _Collector.received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                names.update(span.name for span in scope.spans)
    assert "query Who" in names
    assert any(name.startswith("SELECT") for name in names)
    assert services == {"taskql-under-test"}


_BLOCK_OTEL = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(("opentelemetry.sdk", "opentelemetry.instrumentation")):
            raise ImportError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Block())
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-c", _BLOCK_OTEL + code],
        env={**os.environ, "DATABASE_URL": "sqlite:///unused.db", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_the_extra_and_tracing_off_nothing_loads_the_sdk() -> None:
    result = _python(
        "from gql.app import create_app; create_app()\n"
        "loaded = [m for m in sys.modules if m.startswith(('opentelemetry.sdk',"
        " 'opentelemetry.instrumentation', 'strawberry.extensions.tracing', 'gql.tracing'))]\n"
        "print(loaded)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_tracing_on_without_the_extra_says_what_to_install() -> None:
    result = _python("from gql.app import create_app; create_app()", TASKQL_TRACING="otlp")
    assert result.returncode != 0
    assert "pip install 'taskql[otel]'" in result.stderr


async def test_taskql_tracing_console_prints_spans(
    database: DatabaseUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    member = await seed_tree(database)
    async with traced_client(database.settings(tracing="console"), None) as http:
        await http.post(
            "/graphql",
            json={"query": "query Printed { me { handle } }"},
            headers={"Authorization": f"Bearer {member.token}"},
        )
    printed = capsys.readouterr().out
    assert '"name": "query Printed"' in printed
    assert member.token not in printed


async def test_a_failing_statement_leaves_no_values_in_its_span(
    database: DatabaseUnderTest,
) -> None:
    """A unique violation: PostgreSQL's message names the duplicate value (its DETAIL)."""
    from datetime import UTC, datetime

    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    member = await seed_tree(database)
    provider, exporter = in_memory()
    settings = database.settings()
    engine = create_engine(settings)
    app = create_app(settings, engine=engine, tracer_provider=provider)
    try:
        async with app.router.lifespan_context(app):
            with pytest.raises(IntegrityError):
                async with engine.begin() as connection:
                    await connection.execute(
                        text("INSERT INTO team (slug, name, created_at) VALUES (:slug, 'x', :now)"),
                        {"slug": member.team_slug, "now": datetime.now(UTC)},
                    )
    finally:
        await engine.dispose()
    spans = list(exporter.get_finished_spans())
    (failed,) = [s for s in spans if s.name.startswith("INSERT")]
    assert not failed.status.is_ok
    assert member.team_slug not in all_attribute_text(spans)
