"""Two `taskql serve` processes on one PostgreSQL database, as replicas behind a balancer.

A mixed concurrent workload is spread across both: every acknowledged write is visible
through both, and the rules that need the database to arbitrate (a unique slug, one
assignment per worker and task, no cycle in the task tree) hold across processes. The two
start together on an empty database, so they also race to migrate it.

Events reaching subscribers of another process than the one that took the write are tested
beside the other subscription tests (tests/test_subscription_processes.py).
"""

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.engine import create_engine
from tests.databases import DatabaseUnderTest, fresh_database
from tests.factories import make_member
from tests.graphql_client import GraphQLClient, Response
from tests.mutation_helpers import ASSIGN, CREATE_PROJECT, CREATE_TASK, UPDATE_TASK
from tests.serve_process import Served, start_serve, wait_until_serving

CREATE_WORKER = "mutation ($input: CreateWorkerInput!) { createWorker(input: $input) { id } }"
SNAPSHOT = """{
  tasks(first: 100) { totalCount nodes {
    id title parentId progressPercent assignments { worker { id } } } }
  projects(first: 100) { nodes { id slug } }
}"""


@pytest.fixture
async def replicas(
    dialect: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[DatabaseUnderTest, list[Served]]]:
    if dialect == "sqlite":
        pytest.skip("replicas share a PostgreSQL server; an SQLite file belongs to one host")
    async with fresh_database("postgresql", tmp_path) as direct:
        database = (
            request.getfixturevalue("pgbouncer").fronting(direct)
            if dialect == "pgbouncer"
            else direct
        )
        served = [start_serve(database, tmp_path / f"serve-{n}.log") for n in range(2)]
        try:
            for one in served:
                await asyncio.to_thread(wait_until_serving, one)
            yield database, served
        finally:
            for one in served:
                one.stop()


async def test_two_replicas_agree_and_keep_the_rules(
    replicas: tuple[DatabaseUnderTest, list[Served]],
) -> None:
    database, served = replicas
    engine = create_engine(database.settings(), poolless=True)
    try:
        member = await make_member(engine)
    finally:
        await engine.dispose()
    async with (
        httpx.AsyncClient(base_url=served[0].url, timeout=60) as http_a,
        httpx.AsyncClient(base_url=served[1].url, timeout=60) as http_b,
    ):
        a, b = GraphQLClient(http_a, member.token), GraphQLClient(http_b, member.token)
        either = itertools.cycle([a, b])
        await _workload(a, b, either)
        through_a, through_b = (await a(SNAPSHOT)).data, (await b(SNAPSHOT)).data
    assert through_a == through_b
    _assert_no_cycle(through_a["tasks"]["nodes"])


async def _workload(
    a: GraphQLClient, b: GraphQLClient, either: "itertools.cycle[GraphQLClient]"
) -> None:
    worker = await a(
        CREATE_WORKER, {"input": {"handle": "@shared", "name": "Shared", "type": "HUMAN"}}
    )
    worker_id = worker.data["createWorker"]["id"]
    target = (await b(CREATE_TASK, {"input": {"title": "target"}})).data["createTask"]["id"]
    pairs = [
        (
            (await a(CREATE_TASK, {"input": {"title": f"x{n}"}})).data["createTask"]["id"],
            (await b(CREATE_TASK, {"input": {"title": f"y{n}"}})).data["createTask"]["id"],
        )
        for n in range(5)
    ]

    creates = [next(either)(CREATE_TASK, {"input": {"title": f"t{n}"}}) for n in range(24)]
    updates = [
        next(either)(UPDATE_TASK, {"id": target, "input": {"progressPercent": n}})
        for n in range(10)
    ]
    assigns = [next(either)(ASSIGN, {"t": target, "w": worker_id}) for _ in range(8)]
    slugs = [
        next(either)(CREATE_PROJECT, {"input": {"name": f"P{n}", "slug": "shared"}})
        for n in range(8)
    ]
    # Each pair moved under each other at once, one move through each replica.
    moves = [
        call
        for x, y in pairs
        for call in (
            a(UPDATE_TASK, {"id": x, "input": {"parentId": y}}),
            b(UPDATE_TASK, {"id": y, "input": {"parentId": x}}),
        )
    ]
    groups = [creates, updates, assigns, slugs, moves]
    results = await asyncio.gather(*(call for group in groups for call in group))
    done: list[list[Response]] = []
    for group in groups:
        done.append(list(results[: len(group)]))
        results = results[len(group) :]
    created, updated, assigned, slugged, moved = done

    assert all(not r.errors for r in created + updated), [r.body for r in created + updated]
    _assert_one_wins(assigned, "CONFLICT")
    _assert_one_wins(slugged, "CONFLICT")
    for index in range(0, len(moved), 2):
        _assert_one_wins(moved[index : index + 2], "BAD_USER_INPUT")

    # Every acknowledged write, read back through each replica.
    for replica in (a, b):
        snapshot = (await replica(SNAPSHOT)).data
        tasks = {task["id"]: task for task in snapshot["tasks"]["nodes"]}
        for response in created:
            task = response.data["createTask"]
            assert tasks[task["id"]]["title"] == task["title"]
        last_progress = tasks[target]["progressPercent"]
        assert last_progress in {r.data["updateTask"]["progressPercent"] for r in updated}
        assert tasks[target]["assignments"] == [{"worker": {"id": worker_id}}]
        winner = next(r for r in slugged if not r.errors).data["createProject"]
        assert {"id": winner["id"], "slug": "shared"} in snapshot["projects"]["nodes"]
        for response in moved:
            if not response.errors:
                task = response.data["updateTask"]
                assert tasks[task["id"]]["parentId"] == task["parentId"]


def _assert_one_wins(responses: list[Response], losing_code: str) -> None:
    winners = [r for r in responses if not r.errors]
    assert len(winners) == 1, [r.body for r in responses]
    assert all(r.codes == [losing_code] for r in responses if r.errors), [r.body for r in responses]


def _assert_no_cycle(tasks: list[dict[str, Any]]) -> None:
    parent = {task["id"]: task["parentId"] for task in tasks}
    for start in parent:
        seen, node = {start}, parent[start]
        while node is not None:
            assert node not in seen, f"cycle through task {node}"
            seen.add(node)
            node = parent.get(node)
