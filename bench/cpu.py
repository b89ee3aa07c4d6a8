"""CPU per request of the planned and the resolver path, in-process, on one seeded database.

    python bench/cpu.py --tasks 20000 --requests 300

No server and no load generator: each query is sent N times through httpx's ASGI transport
to the app, first with TASKQL_PLANNER off, then on, and the process CPU time
(time.process_time) per request is reported with the ratio. The answers of both paths
must be byte-identical or the run stops. Good for ratios between the paths on this
machine, not for requests/s (bench/run.py and ../shared/bench measure those). The
queries are the shared benchmark's five (q1 to q5) plus this project's own.
"""

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.queries import NESTED, PROJECTS  # noqa: E402
from bench.run import DEFAULT_ADMIN_URL, create_database, log, reuse, seed  # noqa: E402
from db.engine import create_engine  # noqa: E402
from db.settings import Settings  # noqa: E402
from gql.app import create_app  # noqa: E402

Q1_LIST = """query { tasks(first: 50, orderBy: [{ field: CREATED_AT, direction: DESC }]) {
  nodes { id title description status priority progressPercent dueDate createdAt updatedAt
          projectId parentId } } }"""
Q2_NESTED = """query { tasks(first: 50, where: { parentId: { isNull: true } }) { nodes {
  id title project { name } assignments { role worker { handle } }
  subtasks(first: 10) { nodes { id title assignments { worker { handle } } } } } } }"""
Q3_FILTER = """query { tasks(first: 50, where: { status: { in: [PENDING, IN_PROGRESS] },
  priority: { eq: HIGH }, title: { ilike: "%12%" } }) {
  totalCount nodes { id title status priority } } }"""
Q4_SINGLE = """query ($id: ID!) { task(id: $id) { id title status priority progressPercent dueDate
  createdAt project { id name slug } parent { id title status } } }"""
Q5_DEEP = """query ($after: String) { tasks(first: 50, after: $after) {
  nodes { id title status priority createdAt } } }"""


async def measure(args: argparse.Namespace) -> None:
    url = (
        await create_database(args.admin_url, args.database)
        if not args.reuse
        else _url(args.admin_url, args.database)
    )
    token = (
        await seed(url, args.tasks, args.workers, args.projects)
        if not args.reuse
        else await reuse(url)
    )
    headers = {"Authorization": f"Bearer {token}"}
    apps = {}
    for planner in (False, True):
        settings = Settings(database_url=url, planner=planner)  # type: ignore[call-arg]
        apps[planner] = create_app(settings, engine=create_engine(settings))
    cursor = await _cursor(apps[False], headers, args.tasks // 2)
    single = str(args.tasks // 2)
    queries = {
        "q1_list": (Q1_LIST, None),
        "q2_nested": (Q2_NESTED, None),
        "q3_filter": (Q3_FILTER, None),
        "q4_single": (Q4_SINGLE, {"id": single}),
        "q5_deep_page": (Q5_DEEP, {"after": cursor}),
        "nested-50-tasks": (NESTED, None),
        "projects-tasks-stats": (PROJECTS, None),
    }
    print("| query | resolver path ms CPU | planned ms CPU | ratio |")
    print("|---|---:|---:|---:|")
    for name, (query, variables) in queries.items():
        cpu = {}
        bodies = {}
        for planner in (False, True):
            app = apps[planner]
            transport = httpx.ASGITransport(app=app)
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
            ):
                bodies[planner] = await _post(client, headers, query, variables)  # warm-up
                for _ in range(5):
                    await _post(client, headers, query, variables)
                started = time.process_time()
                for _ in range(args.requests):
                    await _post(client, headers, query, variables)
                cpu[planner] = (time.process_time() - started) / args.requests * 1000
        if bodies[False] != bodies[True]:
            raise SystemExit(f"{name}: the answers differ")
        if b'"errors"' in bodies[True]:
            raise SystemExit(f"{name}: {bodies[True][:300]!r}")
        print(f"| {name} | {cpu[False]:.2f} | {cpu[True]:.2f} | {cpu[False] / cpu[True]:.2f}x |")


async def _post(
    client: httpx.AsyncClient, headers: dict[str, str], query: str, variables: object
) -> bytes:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response.content


async def _cursor(app: object, headers: dict[str, str], task_id: int) -> str:
    import json

    query = "query ($id: ID!) { tasks(first: 1, where: {id: {eq: $id}}) { pageInfo { endCursor } }}"
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with (
        app.router.lifespan_context(app),  # type: ignore[attr-defined]
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        body = json.loads(await _post(client, headers, query, {"id": str(task_id)}))
    return str(body["data"]["tasks"]["pageInfo"]["endCursor"])


def _url(admin_url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    dsn = make_url(admin_url).set(drivername="postgresql", database=database)
    return dsn.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--projects", type=int, default=100)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--database", default="taskql_cpu")
    parser.add_argument("--reuse", action="store_true", help="skip seeding")
    args = parser.parse_args()
    log(f"{args.requests} requests per query and path")
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
