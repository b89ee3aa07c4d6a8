"""CPU cost per request of metrics, request logs and tracing: not a benchmark, a note.

    python bench/observability_overhead.py [--requests 300] [--rounds 3]

Runs the same nested query in-process (httpx ASGITransport, embedded SQLite demo data)
against apps that differ only in what they observe, and prints time.process_time per
request for each, and the difference to the first. In-process, so the numbers are the
server's work plus the client's, which is the same in every variant.
"""

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from db import migrate  # noqa: E402
from db.engine import create_engine, create_session_factory  # noqa: E402
from db.seed import seed_demo  # noqa: E402
from db.settings import Settings  # noqa: E402
from gql.app import create_app  # noqa: E402

QUERY = """
query Nested {
  tasks(first: 20) {
    nodes { id title status project { slug } assignments { role worker { handle } }
            subtasks(first: 5) { nodes { id title } } }
  }
}"""


def request_logging(enabled: bool) -> None:
    logger = logging.getLogger("taskql.request")
    logger.handlers = [logging.StreamHandler(open("/dev/null", "w"))] if enabled else []  # noqa: SIM115
    logger.setLevel(logging.INFO if enabled else logging.WARNING)
    logger.propagate = False


def tracer(resolvers: bool) -> Callable[[], Any]:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def build() -> Any:
        provider = TracerProvider()
        # Batched, as in production; the exporter keeps spans in memory instead of sending.
        provider.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
        return provider

    return build


Variant = tuple[str, dict[str, Any], bool, Callable[[], Any] | None]
VARIANTS: list[Variant] = [
    ("nothing (metrics off, request log below its level)", {"metrics": False}, False, None),
    ("request log", {"metrics": False}, True, None),
    ("request log + metrics (the default)", {}, True, None),
    ("+ tracing (operation and SQL spans)", {}, True, tracer(False)),
    ("+ tracing with resolver spans", {"tracing_resolvers": True}, True, tracer(True)),
]


async def per_request_ms(url: str, token: str, requests: int, variant: Variant) -> float:
    _, overrides, logs, provider = variant
    settings = Settings(database_url=url, **overrides)  # type: ignore[arg-type]
    request_logging(logs)
    app = create_app(settings, tracer_provider=provider() if provider else None)
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http,
    ):
        for _ in range(30):  # warm caches: parser, validation, SQL compilation
            await http.post("/graphql", json={"query": QUERY}, headers=headers)
        started = time.process_time()
        for _ in range(requests):
            response = await http.post("/graphql", json={"query": QUERY}, headers=headers)
            assert "errors" not in response.json(), response.text
        return (time.process_time() - started) / requests * 1000


async def measure(url: str, token: str, requests: int, rounds: int) -> None:
    # Variants take turns, and each keeps its best round: on a shared machine the
    # noise between runs is as large as the differences measured.
    best: dict[str, float] = {}
    for _ in range(rounds):
        for variant in VARIANTS:
            ms = await per_request_ms(url, token, requests, variant)
            best[variant[0]] = min(ms, best.get(variant[0], ms))
    baseline = best[VARIANTS[0][0]]
    for label, ms in best.items():
        print(f"{label:55} {ms:6.2f} ms  ({ms - baseline:+.2f})")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="taskql-overhead-")
    url = f"sqlite+aiosqlite:///{directory}/overhead.db"
    settings = Settings(database_url=url)  # type: ignore[call-arg]
    migration_engine = create_engine(settings, for_migrations=True, poolless=True)
    await migrate.upgrade(migration_engine)
    await migration_engine.dispose()
    engine = create_engine(settings)
    async with create_session_factory(engine)() as session, session.begin():
        token = (await seed_demo(session)).token
    await engine.dispose()
    await measure(url, token, args.requests, args.rounds)


if __name__ == "__main__":
    asyncio.run(main())
