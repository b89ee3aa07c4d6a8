"""The `taskql` command, run as operators run it: a process per command (forked from one
that has the CLI imported, tests/cli_process.py); the README's first command and the
installed script's --help are exec'd afresh."""

import argparse
import asyncio
import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli_process import run_taskql
from tests.databases import DatabaseUnderTest
from tests.graphql_client import GraphQLClient
from tests.serve_process import TASKQL


def run(
    *args: str, url: str | DatabaseUnderTest, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`taskql ARGS` on url: a URL, or a test database with the settings it needs."""
    database = url if isinstance(url, DatabaseUnderTest) else DatabaseUnderTest("", url)
    return run_taskql(list(args), {**os.environ, **database.environ()}, cwd)


def run_installed(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed `taskql` script exec'd as a new process, imports and all."""
    env = {**os.environ, "DATABASE_URL": "sqlite:///unused.db"}
    return subprocess.run(
        [*TASKQL, *args], env=env, capture_output=True, text=True, timeout=120, check=False
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
    # Revoked in another process: refused within TASKQL_TOKEN_CACHE_SECONDS (1 s).
    await asyncio.sleep(1.0)
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
    ids = []
    for result in (first, second):
        lines = result.stdout.strip().splitlines()
        assert lines[-1].startswith("tq_") and " " not in lines[-1]
        (id_line,) = [line for line in lines if line.startswith("id: ")]
        ids.append(id_line.removeprefix("id: "))
    assert ids[0] != ids[1]  # every run issues a fresh token
    listed = run("token", "list", "--team", "demo", url=database)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    for token_id in ids:
        assert rows[token_id][1] == "@alice" and rows[token_id][-1] == "demo"


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


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and action of the parser, the top level included."""
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


def test_help_of_every_command_says_what_it_reads() -> None:
    from gql.cli import _parser

    commands = _commands(_parser())
    assert ("token", "list") in commands and ("team", "list") in commands
    assert ("worker", "list") in commands and len(commands) >= 15

    def help_of(command: tuple[str, ...]) -> str:
        parser = _parser()
        for name in command:
            (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            parser = sub.choices[name]
        return parser.format_help()

    for command in commands:
        text = help_of(command)
        assert "environment:" in text and "DATABASE_URL" in text, command
        if command != ("export-schema",):
            assert ".env" in text and "taskql.db" in text, command
        if command in ((), ("serve",)):
            assert "first run:" in text and "demo team" in text, command
        assert "(default: None)" not in text, command
    serve = help_of(("serve",))
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: 1)"):
        assert default in serve
    assert "(default: demo)" in help_of(("seed",))
    # The installed command prints the same text, exec'd afresh and forked alike.
    for command in ((), ("token", "list")):
        result = run_installed(*command, "--help")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == help_of(command).split()
        result = run(*command, "--help", url="sqlite:///unused.db")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == help_of(command).split()


async def test_team_worker_and_token_lists(
    database: DatabaseUnderTest, http: httpx.AsyncClient
) -> None:
    slug = _slug()
    assert run("team", "create", slug, "--name", "Listed Team", url=database).returncode == 0
    for handle, kind in (("@lin", "human"), ("@bot", "agent")):
        created = run(
            "worker",
            "create",
            "--team",
            slug,
            "--handle",
            handle,
            "--name",
            f"Name {handle[1:]}",
            "--type",
            kind,
            url=database,
        )
        assert created.returncode == 0, created.stderr

    def issue(worker: str, label: str) -> tuple[str, str]:
        result = run(
            "token",
            "create",
            "--team",
            slug,
            "--worker",
            worker,
            "--label",
            label,
            url=database,
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.strip().splitlines()
        return lines[0].removeprefix("id: "), lines[-1]

    used_id, used_secret = issue("@lin", "used laptop")
    revoked_id, revoked_secret = issue("@bot", "ci")
    assert (await GraphQLClient(http, used_secret)("{ me { handle } }")).data
    assert run("token", "revoke", revoked_id, url=database).returncode == 0

    teams_out = run("team", "list", url=database)
    assert teams_out.returncode == 0, teams_out.stderr
    assert teams_out.stdout.splitlines()[0].split() == ["ID", "SLUG", "CREATED", "NAME"]
    (team_row,) = [line for line in teams_out.stdout.splitlines() if f" {slug} " in line]
    assert team_row.endswith("Listed Team")

    workers_out = run("worker", "list", "--team", slug, url=database)
    assert workers_out.returncode == 0, workers_out.stderr
    worker_rows = [line.split() for line in workers_out.stdout.splitlines()]
    assert worker_rows[0] == ["ID", "HANDLE", "TYPE", "CREATED", "NAME"]
    assert [(row[1], row[2], row[-1]) for row in worker_rows[1:]] == [
        ("@lin", "human", "lin"),
        ("@bot", "agent", "bot"),
    ]

    tokens_out = run("token", "list", "--team", slug, url=database)
    assert tokens_out.returncode == 0, tokens_out.stderr
    lines = tokens_out.stdout.splitlines()
    assert lines[0].split() == ["ID", "WORKER", "CREATED", "LAST_USED", "REVOKED", "LABEL"]
    rows = {line.split()[0]: line.split(maxsplit=5) for line in lines[1:]}
    assert set(rows) == {used_id, revoked_id}
    assert rows[used_id][1] == "@lin" and rows[used_id][3] != "-" and rows[used_id][4] == "-"
    assert rows[used_id][5] == "used laptop"
    assert rows[revoked_id][1] == "@bot" and rows[revoked_id][3] == "-"
    assert rows[revoked_id][4].endswith("Z") and rows[revoked_id][5] == "ci"
    # Neither the secret nor its stored hash is ever shown.
    from db.services.tokens import hash_token

    for secret in (used_secret, revoked_secret):
        assert secret not in tokens_out.stdout and hash_token(secret) not in tokens_out.stdout
        assert secret[3:15] not in tokens_out.stdout

    for command in (["worker", "list"], ["token", "list"]):
        missing = run(*command, "--team", "no-such-team", url=database)
        assert "no team" in assert_one_line_failure(missing)


async def test_revoking_a_token_twice_says_so_and_succeeds(
    database: DatabaseUnderTest, http: httpx.AsyncClient
) -> None:
    slug = _slug()
    assert run("team", "create", slug, "--name", "Twice", url=database).returncode == 0
    assert (
        run(
            "worker",
            "create",
            "--team",
            slug,
            "--handle",
            "@t",
            "--name",
            "T",
            "--type",
            "human",
            url=database,
        ).returncode
        == 0
    )
    created = run("token", "create", "--team", slug, "--worker", "@t", url=database)
    token_id, secret = (
        created.stdout.splitlines()[0].removeprefix("id: "),
        created.stdout.split()[-1],
    )

    first = run("token", "revoke", token_id, url=database)
    assert first.returncode == 0 and first.stdout.strip() == f"revoked token {token_id}"
    second = run("token", "revoke", token_id, url=database)
    assert second.returncode == 0, second.stderr
    assert f"token {token_id} was already revoked at " in second.stdout
    assert "nothing changed" in second.stdout
    assert (await GraphQLClient(http, secret)("{ me { handle } }")).codes == ["UNAUTHENTICATED"]
    listed = run("token", "list", "--team", slug, url=database).stdout.splitlines()[1]
    # The second revoke kept the first revocation's time.
    assert listed.split()[4] in second.stdout
