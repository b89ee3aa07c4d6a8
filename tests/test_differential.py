"""Random valid reads, each answered by the planned and the resolver path (tests/parity.py
compares every answer byte for byte): aliases, fragments, @skip/@include, nested
connections with random where/orderBy/first/after, totalCount, pageInfo and cursors.

The generator is seeded, so a failure names the seed and the query that differed.
"""

import json
import logging
import os
import random
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.datasets import build_forest
from tests.factories import Member
from tests.graphql_client import GraphQLClient

# DIFF_SEEDS=600 explores further. Known there: with several invalid arguments in one root
# field (data null), which of them is reported depends on the order in which each path
# reaches them (docs/decisions.md).
SEEDS = range(int(os.environ.get("DIFF_SEEDS", "60")))

TASK_SCALARS = [
    "id",
    "title",
    "description",
    "status",
    "priority",
    "progressPercent",
    "dueDate",
    "createdAt",
    "updatedAt",
    "projectId",
    "parentId",
    "__typename",
]
PROJECT_SCALARS = ["id", "name", "slug", "description", "createdAt", "updatedAt"]
WORKER_SCALARS = ["id", "handle", "name", "type", "createdAt"]
TASK_ORDER = ["ID", "TITLE", "STATUS", "PRIORITY", "PROGRESS_PERCENT", "DUE_DATE", "CREATED_AT"]
TASK_WHERE = [
    "{status: {in: [PENDING, IN_PROGRESS]}}",
    "{priority: {eq: HIGH}}",
    '{title: {contains: "t1"}}',
    "{parentId: {isNull: true}}",
    "{dueDate: {isNull: false}}",
    "{progressPercent: {gte: 30}}",
    '{project: {slug: {eq: "p1"}}}',
    '{parent: {title: {startsWith: "d0"}}}',
    '{parent: {parent: {title: {startsWith: "d0"}}}}',
    '{assignees: {handle: {eq: "@w1"}}}',
    "{or: [{status: {eq: COMPLETED}}, {not: {priority: {eq: LOW}}}]}",
]


class Reads:
    """One random operation: the document, its fragments and its variables."""

    def __init__(self, rng: random.Random, cursors: list[str]) -> None:
        self.rng = rng
        self.cursors = cursors
        self.fragments: dict[str, str] = {}
        self.variables: dict[str, bool] = {}

    def document(self) -> str:
        roots = []
        for n in range(self.rng.randint(1, 3)):
            kind = self.rng.choice(["tasks", "tasks", "task", "projects", "workers", "project"])
            alias = f"r{n}: " if n or self.rng.random() < 0.3 else ""
            if kind == "tasks":
                roots.append(
                    f"{alias}tasks{self._task_args(root=True)} {self._connection('Task', 2)}"
                )
            elif kind == "task":
                roots.append(f'{alias}task(id: "{self.rng.randint(1, 400)}") {self._task(2)}')
            elif kind == "projects":
                roots.append(f"{alias}projects(first: 3) {self._connection('Project', 2)}")
            elif kind == "project":
                roots.append(
                    f'{alias}project(slug: "p{self.rng.randint(0, 2)}") {self._project(2)}'
                )
            else:
                roots.append(f"{alias}workers(first: 3) {self._connection('Worker', 2)}")
        header = ""
        if self.variables:
            header = "(" + ", ".join(f"${name}: Boolean!" for name in self.variables) + ")"
        body = f"query Random{header} {{ {' '.join(roots)} }}"
        return " ".join([body, *self.fragments.values()])

    def _pick(self, names: list[str], at_least: int = 1) -> list[str]:
        chosen = self.rng.sample(names, self.rng.randint(at_least, min(len(names), 4)))
        out = []
        for i, name in enumerate(chosen):
            if self.rng.random() < 0.15:
                out.append(f"a{i}_{name.strip('_')}: {name}")
            else:
                out.append(name)
        return out

    def _wrap(self, type_name: str, selection: str) -> str:
        """The selection as is, in an inline fragment, a named fragment, or under @skip/@include."""
        roll = self.rng.random()
        if roll < 0.15:
            return f"... on {type_name} {{ {selection} }}"
        if roll < 0.3:
            name = f"F{len(self.fragments)}"
            self.fragments[name] = f"fragment {name} on {type_name} {{ {selection} }}"
            return f"...{name}"
        if roll < 0.4:
            variable = f"v{len(self.variables)}"
            self.variables[variable] = self.rng.random() < 0.5
            directive = self.rng.choice(["skip", "include"])
            return f"... @{directive}(if: ${variable}) {{ {selection} }} id"
        return selection

    def _task(self, depth: int) -> str:
        parts = self._pick(TASK_SCALARS)
        if depth > 0:
            for relation in self.rng.sample(
                ["project", "parent", "subtasks", "assignments", "workers", "ancestors"],
                self.rng.randint(0, 3),
            ):
                if relation == "project":
                    parts.append(f"project {self._project(depth - 1)}")
                elif relation == "parent":
                    parts.append(f"parent {self._task(depth - 1)}")
                elif relation == "subtasks":
                    parts.append(
                        f"subtasks{self._task_args()} {self._connection('Task', depth - 1)}"
                    )
                elif relation == "assignments":
                    inner = [
                        "role",
                        "assignedAt",
                        f"worker {{ {' '.join(self._pick(WORKER_SCALARS))} }}",
                    ]
                    if depth > 1:
                        inner.append(f"task {{ {' '.join(self._pick(TASK_SCALARS))} }}")
                    parts.append(f"assignments {{ {' '.join(self.rng.sample(inner, 2))} }}")
                elif relation == "workers":
                    role = self.rng.choice(["", "(role: REVIEWER)", "(role: ASSIGNEE)"])
                    parts.append(f"workers{role} {{ {' '.join(self._pick(WORKER_SCALARS))} }}")
                else:
                    parts.append("ancestors { id title }")
        return "{ " + self._wrap("Task", " ".join(parts)) + " }"

    def _project(self, depth: int) -> str:
        parts = self._pick(PROJECT_SCALARS)
        if depth > 0 and self.rng.random() < 0.5:
            parts.append(f"tasks{self._task_args()} {self._connection('Task', depth - 1)}")
        if self.rng.random() < 0.2:
            parts.append("stats { total averageProgress byStatus { status count } }")
        return "{ " + self._wrap("Project", " ".join(parts)) + " }"

    def _worker(self, depth: int) -> str:
        parts = self._pick(WORKER_SCALARS)
        if depth > 0 and self.rng.random() < 0.4:
            parts.append(f"tasks{self._task_args()} {self._connection('Task', depth - 1)}")
        return "{ " + self._wrap("Worker", " ".join(parts)) + " }"

    def _task_args(self, *, root: bool = False) -> str:
        args = [f"first: {self.rng.randint(0, 4)}"]
        if self.rng.random() < 0.5:
            args.append(f"where: {self.rng.choice(TASK_WHERE)}")
        if self.rng.random() < 0.5:
            keys = self.rng.sample(TASK_ORDER, self.rng.randint(1, 2))
            terms = [
                f"{{field: {key}, direction: {self.rng.choice(['ASC', 'DESC'])}}}" for key in keys
            ]
            args.append(f"orderBy: [{', '.join(terms)}]")
        if self.cursors and self.rng.random() < 0.3:
            # A cursor seen earlier: from this connection and order, or (an error both
            # paths must report alike) from another.
            args.append(f"after: {json.dumps(self.rng.choice(self.cursors))}")
        if root and self.rng.random() < 0.1:
            args = [f"last: {self.rng.randint(1, 3)}"]
        return "(" + ", ".join(args) + ")"

    def _connection(self, node_type: str, depth: int) -> str:
        node = {"Task": self._task, "Project": self._project, "Worker": self._worker}[node_type]
        parts = []
        for part in self.rng.sample(
            ["totalCount", "pageInfo", "edges", "nodes"], self.rng.randint(1, 3)
        ):
            if part == "pageInfo":
                info = ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]
                parts.append(f"pageInfo {{ {' '.join(self._pick(info))} }}")
            elif part == "edges":
                parts.append(f"edges {{ cursor node {node(depth)} }}")
            elif part == "nodes":
                parts.append(f"nodes {node(depth)}")
            else:
                parts.append("totalCount")
        return "{ " + " ".join(parts) + " }"


def _cursors(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [c for k, v in value.items() for c in _cursors(v)] + [
            v for k, v in value.items() if k in ("cursor", "endCursor") and isinstance(v, str)
        ]
    if isinstance(value, list):
        return [c for v in value for c in _cursors(v)]
    return []


def known_reads_answered() -> float:
    found = REGISTRY.get_sample_value("taskql_known_reads_total", {"outcome": "answered"})
    return found or 0.0


async def test_random_reads_answer_alike_on_both_paths(
    dialect: str,
    engine: AsyncEngine,
    member: Member,
    gql: GraphQLClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskql.planned")
    await build_forest(engine, member, roots=6, projects=3, workers=3)
    cursors: list[str] = []
    answered = 0
    known_before = known_reads_answered()
    for seed in SEEDS:
        reads = Reads(random.Random(seed), cursors)
        query = reads.document()
        response = await gql(query, reads.variables or None)  # parity compares the two paths
        assert response.status == 200, (seed, query, response.body)
        # Again: on PostgreSQL a read answered by its JSON statements alone is now a known
        # read (gql/known_reads.py), and parity holds it to the resolver path too.
        again = await gql(query, reads.variables or None)
        assert again == response, (seed, query)
        if response.body.get("data") and not response.errors:
            answered += 1
            cursors.extend(_cursors(response.body["data"])[:5])
    # Most operations are answered (the rest are errors both paths report alike).
    assert answered > len(SEEDS) // 2, answered
    if dialect in ("postgresql", "pgbouncer"):
        assert known_reads_answered() - known_before > len(SEEDS) // 3
    # ... by the plan: graphql-core took over only where a field's input was invalid.
    fallbacks = [r.getMessage() for r in caplog.records if "graphql-core answers" in r.getMessage()]
    assert all("Invalid(" in message for message in fallbacks), fallbacks


# Found by the generator (seed 350 of 600): nested cursors refused inside lists while other
# fields of the same root field wait on the same loader futures. graphql-core cancels the
# rest of a list once one item fails; the loader's shared future was cancelled with it and
# a CancelledError escaped the request (a crash instead of BAD_USER_INPUT).
SHARED_FUTURES = (Path(__file__).parent / "queries" / "shared_loader_futures.graphql").read_text()


async def test_a_refused_nested_argument_beside_shared_loads_is_bad_user_input(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    await build_forest(engine, member, roots=6, projects=3, workers=3)
    response = await gql(SHARED_FUTURES, {"v0": False, "v1": True})
    assert response.status == 200, response.body
    codes = {e["extensions"]["code"] for e in response.errors}
    assert codes == {"BAD_USER_INPUT"}, response.errors
