"""Subscription benchmark: subscribers on one or more server processes, writers at a steady rate.

    python bench/subscriptions.py             # 100 subscribers, 50 writes/s; 1 and 2 processes
    python bench/subscriptions.py --subscribers 10 --rate 5 --seconds 3     # a quick check

For each number of server processes (PostgreSQL; events cross processes by NOTIFY) it prints
the commit-to-delivery latency (an event's `occurredAt`, stamped at its commit, to its arrival
at the subscriber) p50/p99, events delivered per second over all subscribers, and each server's
memory (RSS) sampled every second. Writers run in a separate process and spread their
createTask calls over the servers; subscribers are spread over the servers too.
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import DEFAULT_ADMIN_URL, free_port, log  # noqa: E402
from db import migrate  # noqa: E402
from db.engine import create_engine, create_session_factory  # noqa: E402
from db.models import TeamCreate, WorkerCreate, WorkerType  # noqa: E402
from db.services import tokens  # noqa: E402
from db.services.caller import Caller  # noqa: E402
from db.services.teams import teams  # noqa: E402
from db.services.workers import workers  # noqa: E402
from db.settings import Settings  # noqa: E402

SUBSCRIPTION = "subscription { taskEvents { cursor occurredAt taskId } }"
CREATE = "mutation($t: String!) { createTask(input: {title: $t}) { id } }"


async def prepare(admin_url: str, name: str) -> tuple[str, str]:
    dsn = make_url(admin_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = dsn.set(database=name).render_as_string(hide_password=False)
    settings = Settings(database_url=url)  # type: ignore[call-arg]
    engine = create_engine(settings, for_migrations=True, poolless=True)
    await migrate.upgrade(engine)
    await engine.dispose()
    engine = create_engine(settings, poolless=True)
    async with create_session_factory(engine)() as session, session.begin():
        team = await teams.create(session, TeamCreate(slug="bench", name="Bench"))
        assert team.id is not None
        worker = await workers.create(
            session, Caller(team.id), WorkerCreate(handle="@w", name="W", type=WorkerType.AGENT)
        )
        assert worker.id is not None
        issued = await tokens.issue(session, team_id=team.id, worker_id=worker.id)
    await engine.dispose()
    return url, issued.secret


def start_servers(url: str, count: int) -> list[tuple[subprocess.Popen[bytes], int]]:
    servers = []
    for _ in range(count):
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "TASKQL_WS_MAX_SUBSCRIPTIONS": "10000"}
        taskql = Path(sys.executable).with_name("taskql")
        proc = subprocess.Popen(
            [str(taskql), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        servers.append((proc, port))
    for proc, port in servers:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("a server did not become ready")
            time.sleep(0.2)
    return servers


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Subscriber:
    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.errors = 0

    async def run(self, url: str, token: str, ready: asyncio.Event, stop: asyncio.Event) -> None:
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
            )
            ready.set()
            while not stop.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                arrived = time.time()
                message = json.loads(raw)
                payload = message.get("payload") or {}
                if message["type"] != "next" or payload.get("errors"):
                    self.errors += 1
                    continue
                occurred = datetime.fromisoformat(payload["data"]["taskEvents"]["occurredAt"])
                self.latencies_ms.append((arrived - occurred.timestamp()) * 1000)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


async def scenario(
    url: str, token: str, processes: int, subscribers: int, rate: float, seconds: float
) -> dict[str, Any]:
    servers = start_servers(url, processes)
    try:
        stop = asyncio.Event()
        subs = [Subscriber() for _ in range(subscribers)]
        readies = [asyncio.Event() for _ in subs]
        tasks = [
            asyncio.create_task(
                sub.run(f"ws://127.0.0.1:{servers[n % processes][1]}/graphql", token, ready, stop)
            )
            for n, (sub, ready) in enumerate(zip(subs, readies, strict=True))
        ]
        await asyncio.gather(*(ready.wait() for ready in readies))
        await asyncio.sleep(1.0)  # every subscribe message reached its server
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--write",
            json.dumps(
                {
                    "urls": [f"http://127.0.0.1:{p}/graphql" for _, p in servers],
                    "token": token,
                    "rate": rate,
                    "seconds": seconds,
                }
            ),
            stdout=asyncio.subprocess.PIPE,
        )
        memory: list[list[float]] = []
        started = time.monotonic()
        while writer.returncode is None:
            memory.append([rss_mb(proc.pid) for proc, _ in servers])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.wait(), 1.0)
        written = json.loads((await writer.stdout.read()).decode())  # type: ignore[union-attr]
        await asyncio.sleep(2.0)  # the last events arrive
        elapsed = time.monotonic() - started
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=30)
    latencies = [lat for sub in subs for lat in sub.latencies_ms]
    return {
        "processes": processes,
        "subscribers": subscribers,
        "written": written["written"],
        "write_errors": written["errors"],
        "delivered": len(latencies),
        "expected": written["written"] * subscribers,
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) if latencies else 0.0,
        "p99_ms": percentile(latencies, 0.99),
        "errors": sum(sub.errors for sub in subs),
        "rss_mb": memory,
    }


async def write(spec: dict[str, Any]) -> None:
    """The writer process: createTask at a steady rate, round-robin over the servers."""
    interval = 1.0 / spec["rate"]
    written = errors = 0
    pending: set[asyncio.Task[Any]] = set()
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(n: int) -> None:
            nonlocal written, errors
            url = spec["urls"][n % len(spec["urls"])]
            response = await http.post(
                url,
                json={"query": CREATE, "variables": {"t": f"bench {n}"}},
                headers={"Authorization": f"Bearer {spec['token']}"},
            )
            if response.status_code == 200 and not response.json().get("errors"):
                written += 1
            else:
                errors += 1

        start = time.monotonic()
        n = 0
        while time.monotonic() - start < spec["seconds"]:
            task = asyncio.create_task(one(n))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
        await asyncio.gather(*pending)
    print(json.dumps({"written": written, "errors": errors}))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rate", type=float, default=50, help="writes per second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument(
        "--admin-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_ADMIN_URL)
    )
    parser.add_argument("--database", default="taskql_bench_events")
    parser.add_argument("--write", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        asyncio.run(write(json.loads(args.write)))
        return
    url, token = asyncio.run(prepare(args.admin_url, args.database))
    print(
        f"{'procs':>5} {'subs':>5} {'written':>7} {'delivered':>9} {'events/s':>9}"
        f" {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  server RSS MB (start, max, end)"
    )
    for processes in args.processes:
        result = asyncio.run(
            scenario(url, token, processes, args.subscribers, args.rate, args.seconds)
        )
        memory = result["rss_mb"]
        per_server = [
            f"{column[0]:.0f}/{max(column):.0f}/{column[-1]:.0f}"
            for column in zip(*memory, strict=True)
        ]
        missing = result["expected"] - result["delivered"]
        print(
            f"{processes:>5} {result['subscribers']:>5} {result['written']:>7}"
            f" {result['delivered']:>9} {result['events_per_s']:>9.0f}"
            f" {result['p50_ms']:>7.1f} {result['p99_ms']:>7.1f}"
            f" {result['errors'] + result['write_errors']:>6}  {' '.join(per_server)}"
            + (f"  ({missing} events missing)" if missing else ""),
            flush=True,
        )
        log(f"memory samples (MB per server, 1 s apart): {memory}")


if __name__ == "__main__":
    main()
