"""taskql benchmark: seed a realistic PostgreSQL dataset, start the real server, drive it.

    python bench/run.py                      # 100,000 tasks, 10 s per query and concurrency
    python bench/run.py --tasks 20000 --seconds 3

Prints, per query: SQL statements per request, p50/p99 latency and requests per second at
concurrency 1 and 16. The load comes from a separate process (bench/load.py).
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.queries import QUERIES  # noqa: E402
from db import migrate  # noqa: E402
from db.engine import create_engine, create_session_factory  # noqa: E402
from db.models import Project, TeamCreate, Worker, WorkerType  # noqa: E402
from db.seed import seed_tasks  # noqa: E402
from db.services import tokens  # noqa: E402
from db.services.catalog import TASK  # noqa: E402
from db.services.teams import teams  # noqa: E402
from db.settings import Settings  # noqa: E402
from db.statements import StatementCounter  # noqa: E402

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def create_database(admin_url: str, name: str) -> str:
    dsn = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn.set(database=name).render_as_string(hide_password=False)


async def seed(url: str, task_count: int, workers: int, projects: int) -> str:
    settings = Settings(database_url=url)  # type: ignore[call-arg]
    engine = create_engine(settings, for_migrations=True, poolless=True)
    await migrate.upgrade(engine)
    await engine.dispose()
    engine = create_engine(settings, poolless=True)
    started = time.perf_counter()
    async with create_session_factory(engine)() as session, session.begin():
        team = await teams.create(session, TeamCreate(slug="bench", name="Bench"))
        assert team.id is not None
        session.add_all(
            Worker(
                team_id=team.id,
                handle=f"@w{i}",
                name=f"Worker {i}",
                type=WorkerType.AGENT if i % 3 == 0 else WorkerType.HUMAN,
            )
            for i in range(workers)
        )
        session.add_all(
            Project(team_id=team.id, slug=f"project-{i}", name=f"Project {i}")
            for i in range(projects)
        )
        await session.flush()
        first_worker = (await session.execute(sa.select(sa.func.min(Worker.id)))).scalar_one()  # type: ignore[arg-type]
        issued = await tokens.issue(session, team_id=team.id, worker_id=first_worker)

        def progress(done: int) -> None:
            if done % 20_000 < 2_000:
                log(f"  seeded {done} tasks")

        await seed_tasks(session, team.id, task_count, progress=progress)
    async with engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE"))
    await engine.dispose()
    log(
        f"seeded {task_count} tasks, {workers} workers, {projects} projects"
        f" in {time.perf_counter() - started:.1f} s"
    )
    return issued.secret


async def reuse(url: str) -> str:
    """A fresh token for the bench team of an earlier run."""
    engine = create_engine(Settings(database_url=url), poolless=True)  # type: ignore[call-arg]
    async with create_session_factory(engine)() as session, session.begin():
        team = await teams.require_slug(session, "bench")
        assert team.id is not None
        worker = (await session.execute(sa.select(sa.func.min(Worker.id)))).scalar_one()  # type: ignore[arg-type]
        issued = await tokens.issue(session, team_id=team.id, worker_id=worker)
    await engine.dispose()
    return issued.secret


async def variables_for(url: str, token: str) -> dict[str, dict[str, Any]]:
    """Variables for queries that need a real id or a cursor deep in the table."""
    from gql.app import create_app

    settings = Settings(database_url=url)  # type: ignore[call-arg]
    engine = create_engine(settings)
    async with engine.connect() as conn:
        deep_task = (
            await conn.execute(
                sa.select(TASK.c.parent_id)
                .where(TASK.c.parent_id.is_not(None))
                .order_by(TASK.c.id.desc())
                .limit(1)
            )
        ).scalar_one()
        total = (await conn.execute(sa.select(sa.func.count()).select_from(TASK))).scalar_one()
    app = create_app(settings, engine=engine)
    values: dict[str, dict[str, Any]] = {"deep_task": {"id": deep_task}}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench"
        ) as client,
    ):
        # Walk to about 90% of the table with the largest pages, to get a deep cursor.
        cursor = None
        seen = 0
        query = QUERIES["page-90k-deep"][0].replace("first: 50", "first: 100")
        while seen < total * 0.9:
            body = (
                await client.post(
                    "/graphql",
                    json={"query": query, "variables": {"after": cursor}},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).json()
            page = body["data"]["tasks"]
            cursor = page["pageInfo"]["endCursor"]
            seen += len(page["nodes"])
        values["deep_cursor"] = {"after": cursor}
        values["statements"] = {}
        with StatementCounter(engine) as counter:
            for name, (document, var_name) in QUERIES.items():
                await client.post(
                    "/graphql",
                    json={"query": "{ me { id } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                counter.reset()
                response = await client.post(
                    "/graphql",
                    json={"query": document, "variables": values.get(var_name or "", {})},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert "errors" not in response.json(), response.json()
                values["statements"][name] = counter.count
    await engine.dispose()
    return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "TASKQL_POOL_SIZE": "20"}
    taskql = Path(sys.executable).with_name("taskql")
    server = subprocess.Popen(
        [str(taskql), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not become ready")


def drive(
    port: int, token: str, payload: dict[str, Any], concurrency: int, seconds: float
) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--url",
            f"http://127.0.0.1:{port}/graphql",
            "--token",
            token,
            "--concurrency",
            str(concurrency),
            "--seconds",
            str(seconds),
        ],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="per query and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument(
        "--admin-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--database", default="taskql_bench")
    parser.add_argument("--server-workers", type=int, default=1, help="taskql serve --workers")
    parser.add_argument("--only", nargs="+", choices=list(QUERIES), help="run these queries only")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of the last run instead of seeding"
    )
    args = parser.parse_args()

    if args.reuse:
        url = make_url(args.admin_url).set(drivername="postgresql", database=args.database)
        url = url.render_as_string(hide_password=False)
        token = asyncio.run(reuse(url))
    else:
        url = asyncio.run(create_database(args.admin_url, args.database))
        token = asyncio.run(seed(url, args.tasks, args.workers, args.projects))
    values = asyncio.run(variables_for(url, token))
    port = free_port()
    server = start_server(url, port, args.server_workers)
    try:
        print(
            f"{'query':<28} {'conc':>4} {'stmts':>5} {'p50 ms':>8} {'p99 ms':>8}"
            f" {'req/s':>8} {'errors':>6}"
        )
        for name, (document, var_name) in QUERIES.items():
            if args.only and name not in args.only:
                continue
            payload = {"query": document, "variables": values.get(var_name or "", {})}
            drive(port, token, payload, 1, 1.0)  # warm-up: pool, caches
            for concurrency in args.concurrency:
                run = drive(port, token, payload, concurrency, args.seconds)
                latencies = run["latencies_ms"]
                print(
                    f"{name:<28} {concurrency:>4} {values['statements'][name]:>5} "
                    f"{statistics.median(latencies):>8.1f} {percentile(latencies, 0.99):>8.1f} "
                    f"{len(latencies) / run['wall_seconds']:>8.1f} {run['errors']:>6}",
                    flush=True,
                )
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
