"""The `taskql` command, run as operators run it: in a subprocess."""

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.databases import DatabaseUnderTest
from tests.graphql_client import GraphQLClient
from tests.serve_process import TASKQL


def run(
    *args: str, url: str | DatabaseUnderTest, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`taskql ARGS` on url: a URL, or a test database with the settings it needs."""
    database = url if isinstance(url, DatabaseUnderTest) else DatabaseUnderTest("", url)
    env = {**os.environ, **database.environ()}
    return subprocess.run(
        [*TASKQL, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _slug() -> str:
    import uuid

    return f"cli-{uuid.uuid4().hex[:8]}"


async def test_team_worker_token_lifecycle(
    database: DatabaseUnderTest, http: httpx.AsyncClient
) -> None:
    slug = _slug()
    created = run("team", "create", slug, "--name", "CLI Team", url=database)
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[0].startswith("id: ")

    duplicate = run("team", "create", slug, "--name", "Again", url=database)
    assert "already exists" in assert_one_line_failure(duplicate)

    worker = run(
        "worker",
        "create",
        "--team",
        slug,
        "--handle",
        "@ada",
        "--name",
        "Ada",
        "--type",
        "agent",
        url=database,
    )
    assert worker.returncode == 0, worker.stderr
    dup_worker = run(
        "worker",
        "create",
        "--team",
        slug,
        "--handle",
        "@ada",
        "--name",
        "Ada",
        "--type",
        "human",
        url=database,
    )
    assert "already exists" in assert_one_line_failure(dup_worker)

    token = run(
        "token", "create", "--team", slug, "--worker", "@ada", "--label", "ci", url=database
    )
    assert token.returncode == 0, token.stderr
    lines = token.stdout.strip().splitlines()
    id_lines = [line for line in lines if line.startswith("id: ")]
    assert len(id_lines) == 1
    token_id = id_lines[0].removeprefix("id: ")
    secret = lines[-1]
    assert secret.startswith("tq_") and " " not in secret

    gql = GraphQLClient(http, secret)
    me = (await gql("{ me { handle type } team { slug } }")).data
    assert me == {"me": {"handle": "@ada", "type": "AGENT"}, "team": {"slug": slug}}

    revoked = run("token", "revoke", token_id, url=database)
    assert revoked.returncode == 0, revoked.stderr
    assert (await gql("{ me { handle } }")).codes == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "args",
    [
        ["team", "create"],
        ["team", "create", "Not A Slug!", "--name", "x"],
        ["worker", "create", "--team", "nope", "--handle", "@a", "--name", "A", "--type", "robot"],
        ["token", "revoke", "not-a-number"],
        ["seed"],
        ["serve", "--workers", "0"],
        ["serve", "--port", "http"],
        ["frobnicate"],
    ],
)
def test_bad_arguments_fail_in_one_line(
    dialect: str, database: DatabaseUnderTest, args: list[str]
) -> None:
    if dialect == "pgbouncer":
        pytest.skip("argument errors are the CLI's; the other CLI tests cover the pooler")
    result = run(*args, url=database)
    assert result.returncode != 0
    assert_one_line_failure(result, code=result.returncode)


def test_unknown_team_worker_and_token(database: DatabaseUnderTest) -> None:
    assert "no team" in assert_one_line_failure(
        run(
            "worker",
            "create",
            "--team",
            "no-such-team",
            "--handle",
            "@a",
            "--name",
            "A",
            "--type",
            "human",
            url=database,
        )
    )
    assert "no team" in assert_one_line_failure(
        run("token", "create", "--team", "no-such-team", "--worker", "@a", url=database)
    )
    assert "no token" in assert_one_line_failure(run("token", "revoke", "987654321", url=database))


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/taskql",
        "sqlite:////nonexistent-dir/deeper/taskql.db",
    ],
    ids=["postgresql", "sqlite"],
)
def test_unreachable_database_fails_in_one_line(url: str) -> None:
    for args in (["migrate"], ["team", "create", "x", "--name", "X"], ["seed", "--demo"]):
        line = assert_one_line_failure(run(*args, url=url))
        assert "cannot reach the database" in line


def test_seed_demo_is_idempotent_and_prints_a_token(database: DatabaseUnderTest) -> None:
    first = run("seed", "--demo", url=database)
    second = run("seed", "--demo", url=database)
    assert first.returncode == 0 and second.returncode == 0, (first.stderr, second.stderr)
    assert "exists already" in second.stdout
    assert first.stdout.strip().splitlines()[-1].startswith("tq_")
    assert second.stdout.strip().splitlines()[-1].startswith("tq_")


def test_seed_tasks_adds_tasks_with_progress(database: DatabaseUnderTest) -> None:
    slug = _slug()
    assert run("team", "create", slug, "--name", "Bulk", url=database).returncode == 0
    assert (
        run(
            "worker",
            "create",
            "--team",
            slug,
            "--handle",
            "@w",
            "--name",
            "W",
            "--type",
            "human",
            url=database,
        ).returncode
        == 0
    )
    result = run("seed", "--tasks", "1500", "--team", slug, url=database)
    assert result.returncode == 0, result.stderr
    assert "1500/1500" in result.stderr
    assert "added 1500 tasks" in result.stdout


def test_migrate_and_downgrade_on_a_fresh_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    up = run("migrate", url=url)
    assert up.returncode == 0, up.stderr
    assert "applied 1" in up.stdout or "applied" in up.stdout
    assert run("migrate", url=url).stdout.startswith("applied 0")
    down = run("migrate", "--downgrade", "base", url=url)
    assert down.returncode == 0, down.stderr
    refused = run("team", "create", "t", "--name", "T", url=url)
    assert "taskql migrate" in assert_one_line_failure(refused)


def test_export_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.graphql"
    result = run("export-schema", "-o", str(out), url="sqlite:///unused.db")
    assert result.returncode == 0, result.stderr
    assert "type Query" in out.read_text()
    assert "type Query" in run("export-schema", url="sqlite:///unused.db").stdout


def test_serve_migrates_seeds_on_first_run_and_answers(tmp_path: Path) -> None:
    """The README's first command, minus the install: no DATABASE_URL, a fresh directory."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen(
        [*TASKQL, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not (lines and lines[-1].startswith("tq_")):
            line = proc.stdout.readline()
            assert line, f"serve exited early: {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line.strip())
        token = lines[-1]
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/graphql",
                    json={"query": "{ me { handle } team { slug } }"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "serve did not start listening"
                time.sleep(0.2)
        assert response.json() == {"data": {"me": {"handle": "@alice"}, "team": {"slug": "demo"}}}
        assert (tmp_path / "taskql.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
