"""The `taskql` command: serve, migrate, teams, workers, tokens, seed, export-schema.

Every failure is one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import asyncio
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import migrate
from db.engine import DatabaseUrlError, create_engine, create_session_factory
from db.errors import DomainError
from db.events.listener import announcing
from db.models import Team, TeamCreate, WorkerCreate
from db.seed import DEMO_TEAM_SLUG, SeedResult, seed_demo, seed_tasks
from db.services import tokens
from db.services.caller import Caller
from db.services.teams import teams
from db.services.workers import workers
from db.settings import DEFAULT_DATABASE_URL, Settings
from gql.cli_format import moment, table
from gql.errors import describe_validation_error, is_connection_failure

EXIT_FAILURE = 1
# How long a command waits, at most, for a SQLite connection thread to wind down.
_SQLITE_THREAD_WAIT_SECONDS = 5.0


class CliError(Exception):
    """A failure reported as one line."""


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        args.run(args, settings)
    except CliError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")


def _fail(message: str) -> NoReturn:
    print(f"taskql: {message}", file=sys.stderr)
    sys.exit(EXIT_FAILURE)


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments in one line, with where to find help."""

    def error(self, message: str) -> NoReturn:
        print(f"taskql: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (when it has one worth showing) and keeps the
    environment notes below the options as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and action.option_strings and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


# What every command that opens the database reads, said once for all of their --help.
DATABASE_ENVIRONMENT = f"""environment:
  DATABASE_URL  the database; default {DEFAULT_DATABASE_URL}, a SQLite file
                taskql.db in the working directory. postgres://, postgresql://
                and sqlite:///PATH URLs are accepted as providers show them.
  .env          a .env file in the working directory is read as well; a variable
                set in the environment wins over the file. docs/configuration.md
                lists every TASKQL_* setting.
Commands other than serve and migrate refuse a database whose schema is not
current: run `taskql migrate` first."""

FIRST_RUN = """first run:
  With DATABASE_URL unset (the embedded SQLite default) and no team in the
  database yet, serve creates the demo team (workers, projects, task trees) and
  prints a token for @alice. Against a configured DATABASE_URL it never writes
  demo data: use `taskql seed --demo` for that."""

SCHEMA_ENVIRONMENT = """environment:
  Reads no database: the SDL is the schema's, whatever DATABASE_URL or the
  TASKQL_* settings say."""


def _command(
    group: "argparse._SubParsersAction[_Parser]",
    name: str,
    summary: str,
    *,
    epilog: str = DATABASE_ENVIRONMENT,
) -> _Parser:
    return group.add_parser(
        name, help=summary, description=summary, epilog=epilog, formatter_class=_HelpFormatter
    )


def _actions(parser: _Parser) -> "argparse._SubParsersAction[_Parser]":
    return parser.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="taskql",
        description="GraphQL API for the work of teams of people and AI agents.",
        epilog=f"{DATABASE_ENVIRONMENT}\n\n{FIRST_RUN}\n\n"
        "`taskql COMMAND --help` (and `taskql COMMAND ACTION --help`) tells more.",
        formatter_class=_HelpFormatter,
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    serve = _command(
        commands,
        "serve",
        "apply pending migrations and serve /graphql, /healthz and /readyz",
        epilog=f"{DATABASE_ENVIRONMENT}\n\n{FIRST_RUN}",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (each with its own pool)"
    )
    serve.set_defaults(run=_serve)

    mig = _command(commands, "migrate", "upgrade the database to the newest schema")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    mig.set_defaults(run=_migrate)

    team = _actions(_command(commands, "team", "manage teams"))
    team_create = _command(team, "create", "create a team")
    team_create.add_argument("slug", help="lower-case words joined by '-'")
    team_create.add_argument("--name", required=True, help="the team's display name")
    team_create.set_defaults(run=_team_create)
    _command(team, "list", "list every team").set_defaults(run=_team_list)

    worker = _actions(_command(commands, "worker", "manage workers"))
    worker_create = _command(worker, "create", "create a worker")
    worker_create.add_argument("--team", required=True, metavar="SLUG", help="the team's slug")
    worker_create.add_argument(
        "--handle", required=True, metavar="@HANDLE", help="unique in the team"
    )
    worker_create.add_argument("--name", required=True, help="the worker's display name")
    worker_create.add_argument(
        "--type", required=True, choices=["human", "agent"], type=str.lower, help="human or agent"
    )
    worker_create.set_defaults(run=_worker_create)
    worker_list = _command(worker, "list", "list the workers of a team")
    worker_list.add_argument("--team", required=True, metavar="SLUG", help="the team's slug")
    worker_list.set_defaults(run=_worker_list)

    token = _actions(_command(commands, "token", "manage API tokens"))
    token_create = _command(
        token, "create", "create a token; prints `id: N`, then the token alone on the last line"
    )
    token_create.add_argument("--team", required=True, metavar="SLUG", help="the team's slug")
    token_create.add_argument(
        "--worker", required=True, metavar="@HANDLE", help="the worker the token acts as"
    )
    token_create.add_argument("--label", help="a note for `token list` (where it is used)")
    token_create.set_defaults(run=_token_create)
    token_list = _command(
        token, "list", "list a team's tokens (never their secrets): use, revocation, label"
    )
    token_list.add_argument("--team", required=True, metavar="SLUG", help="the team's slug")
    token_list.set_defaults(run=_token_list)
    token_revoke = _command(
        token,
        "revoke",
        "revoke a token; exits 0 also when it was revoked already (and says so)",
    )
    token_revoke.add_argument(
        "token_id", type=int, metavar="TOKEN_ID", help="the id `token create` or `token list` shows"
    )
    token_revoke.set_defaults(run=_token_revoke)

    seed = _command(
        commands,
        "seed",
        "add demo data or bulk tasks; --demo prints a fresh token for @alice last",
    )
    seed.add_argument("--demo", action="store_true", help="the demo team (idempotent)")
    seed.add_argument("--tasks", type=int, metavar="N", help="add N tasks in trees to a team")
    seed.add_argument("--team", default=DEMO_TEAM_SLUG, metavar="SLUG", help="for --tasks")
    seed.set_defaults(run=_seed)

    export = _command(commands, "export-schema", "write the GraphQL SDL", epilog=SCHEMA_ENVIRONMENT)
    export.add_argument("-o", "--output", metavar="FILE", help="default: stdout")
    export.set_defaults(run=_export_schema)
    return parser


# -- running against the database ---------------------------------------------


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (a URL that does not parse is shown as is)
        return url


def _run_db(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[None]],
    *,
    for_migrations: bool = False,
) -> None:
    async def runner() -> None:
        try:
            engine = create_engine(settings, for_migrations=for_migrations, poolless=True)
        except DatabaseUrlError as exc:
            raise CliError(str(exc)) from exc
        try:
            async with announcing(engine):
                await work(engine)
        finally:
            await engine.dispose()
            await _sqlite_threads_finished()

    try:
        asyncio.run(runner())
    except CliError:
        raise
    except DomainError as exc:
        raise CliError(exc.message) from exc
    except ValidationError as exc:
        raise CliError(describe_validation_error(exc)) from exc
    except Exception as exc:
        if is_connection_failure(exc):
            raise CliError(
                f"cannot reach the database at {_redacted(settings.database_url)}"
                f" ({type(exc).__name__}: {_first_line(exc)})"
            ) from exc
        raise CliError(f"{type(exc).__name__}: {_first_line(exc)}") from exc


async def _sqlite_threads_finished() -> None:
    """Wait for aiosqlite's connection threads before asyncio.run closes the loop.

    After a failed connect aiosqlite stops its thread without waiting for it; the thread
    then reports to the loop, and if the loop is closed by then it prints a traceback,
    which breaks the one-line failure a script expects. The threads keep their target's
    name, "Thread-N (_connection_worker_thread)".
    """
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, _SQLITE_THREAD_WAIT_SECONDS)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else ""


async def _in_transaction(
    engine: AsyncEngine, work: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    async with create_session_factory(engine)() as session, session.begin():
        await work(session)


async def _ensure_migrated(engine: AsyncEngine) -> None:
    if await migrate.pending_revisions(engine):
        raise CliError("the database schema is not current: run `taskql migrate` first")


# -- commands --------------------------------------------------------------------


def _migrate(args: argparse.Namespace, settings: Settings) -> None:
    async def work(engine: AsyncEngine) -> None:
        if args.downgrade:
            await migrate.downgrade(engine, args.downgrade)
            print(f"downgraded to {args.downgrade}")
        else:
            pending = await migrate.pending_revisions(engine)
            await migrate.upgrade(engine)
            print(f"applied {len(pending)} migration(s); the database is current")

    _run_db(settings, work, for_migrations=True)


def _team_create(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        team = await teams.create(session, TeamCreate(slug=args.slug, name=args.name))
        print(f"id: {team.id}")
        print(f"created team {team.slug}")

    _run_db(settings, lambda engine: _checked(engine, work))


def _worker_create(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        team = await teams.require_slug(session, args.team)
        assert team.id is not None
        data = WorkerCreate(handle=args.handle, name=args.name, type=args.type)
        worker = await workers.create(session, Caller(team.id), data)  # Conflict for a taken handle
        print(f"id: {worker.id}")
        print(f"created worker {worker.handle} in team {team.slug}")

    _run_db(settings, lambda engine: _checked(engine, work))


def _token_create(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        team = await teams.require_slug(session, args.team)
        assert team.id is not None
        worker = await workers.require_handle(session, team.id, args.worker)
        assert worker.id is not None
        issued = await tokens.issue(session, team_id=team.id, worker_id=worker.id, label=args.label)
        print(f"id: {issued.id}")
        print(f"token for {worker.handle} in team {team.slug}; it is shown only once:")
        print(issued.secret)

    _run_db(settings, lambda engine: _checked(engine, work))


def _token_revoke(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        revocation = await tokens.revoke(session, args.token_id)
        if revocation.already:
            # Exit 0: the token is revoked, which is what the caller asked for; a script
            # that revokes again (a retry, a re-run) must not fail for it.
            print(
                f"token {args.token_id} was already revoked at"
                f" {moment(revocation.revoked_at)}; nothing changed"
            )
        else:
            print(f"revoked token {args.token_id}")

    _run_db(settings, lambda engine: _checked(engine, work))


def _team_list(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        rows = [
            (team.id, team.slug, moment(team.created_at), team.name)
            for team in await teams.list_all(session)
        ]
        print(table(("ID", "SLUG", "CREATED", "NAME"), rows))

    _run_db(settings, lambda engine: _checked(engine, work))


def _worker_list(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        team = await teams.require_slug(session, args.team)
        assert team.id is not None
        rows = [
            (worker.id, worker.handle, worker.type.value, moment(worker.created_at), worker.name)
            for worker in await workers.list_for_team(session, team.id)
        ]
        print(table(("ID", "HANDLE", "TYPE", "CREATED", "NAME"), rows))

    _run_db(settings, lambda engine: _checked(engine, work))


def _token_list(args: argparse.Namespace, settings: Settings) -> None:
    async def work(session: AsyncSession) -> None:
        team = await teams.require_slug(session, args.team)
        assert team.id is not None
        rows = [
            (
                token.id,
                token.worker_handle,
                moment(token.created_at),
                moment(token.last_used_at),
                moment(token.revoked_at),
                token.label,
            )
            for token in await tokens.list_for_team(session, team.id)
        ]
        print(table(("ID", "WORKER", "CREATED", "LAST_USED", "REVOKED", "LABEL"), rows))

    _run_db(settings, lambda engine: _checked(engine, work))


def _seed(args: argparse.Namespace, settings: Settings) -> None:
    if not args.demo and args.tasks is None:
        raise CliError("seed needs --demo, --tasks N or both")
    if args.tasks is not None and args.tasks < 1:
        raise CliError("--tasks must be at least 1")

    async def work(engine: AsyncEngine) -> None:
        await _ensure_migrated(engine)
        token: tuple[int, str] | None = None
        if args.demo:
            async with create_session_factory(engine)() as session, session.begin():
                result = await seed_demo(session)
            print(
                "created the demo team" if result.created else "the demo team exists already",
                f"(slug {DEMO_TEAM_SLUG})",
            )
            token = result.token_id, result.token
        if args.tasks:
            async with create_session_factory(engine)() as session, session.begin():
                team = await teams.require_slug(session, args.team)
                assert team.id is not None
                bar = _ProgressBar(args.tasks)
                await seed_tasks(session, team.id, args.tasks, progress=bar.update)
                bar.close()
            print(f"added {args.tasks} tasks to team {args.team}")
        if token is not None:
            token_id, secret = token
            print(f"id: {token_id}")
            print(
                f"token {token_id} for @alice (revoke: taskql token revoke {token_id});"
                " send it as 'Authorization: Bearer <token>':"
            )
            print(secret)

    _run_db(settings, work)


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    import uvicorn

    from gql import serving
    from gql.app import create_app
    from gql.observability import TracingUnavailable
    from gql.observed_serving import observed_serving
    from gql.serving import DrainingHttpToolsProtocol

    demo_token: list[SeedResult] = []

    async def prepare(engine: AsyncEngine) -> None:
        pending = await migrate.pending_revisions(engine)
        if pending:
            migration_engine = create_engine(settings, for_migrations=True, poolless=True)
            try:
                await migrate.upgrade(migration_engine)
            finally:
                await migration_engine.dispose()
            print(f"applied {len(pending)} migration(s)")
        if _is_embedded_default(settings):
            async with create_session_factory(engine)() as session, session.begin():
                if (await session.execute(select(func.count()).select_from(Team))).scalar_one():
                    return
                demo_token.append(await seed_demo(session))

    _run_db(settings, prepare)
    url = f"http://{args.host}:{args.port}/graphql"
    if demo_token:
        print("First run: created the demo team with workers, projects and tasks.")
        print(f"GraphiQL: {url}  (add the header  Authorization: Bearer <token>)")
        print(f"token {demo_token[0].token_id} for @alice, shown only once:")
        print(demo_token[0].token, flush=True)
    else:
        print(f"serving GraphQL at {url}", flush=True)
    try:
        with observed_serving(settings, host=args.host, workers=args.workers) as logging_options:
            config = uvicorn.Config(
                # With several workers each process builds its own app (and engine) from
                # the same environment.
                create_app(settings) if args.workers == 1 else "gql.app:create_app",
                factory=args.workers > 1,
                host=args.host,
                port=args.port,
                workers=args.workers,
                http=DrainingHttpToolsProtocol,
                timeout_graceful_shutdown=settings.shutdown_grace_seconds,
                # A socket message is bounded like an HTTP body (uvicorn's default: 16 MiB).
                ws_max_size=settings.max_body_bytes,
                **logging_options,
            )
            serving.serve(config)
    except (TracingUnavailable, OSError) as exc:
        raise CliError(str(exc)) from exc


def _is_embedded_default(settings: Settings) -> bool:
    return settings.database_url == DEFAULT_DATABASE_URL and "DATABASE_URL" not in os.environ


def _export_schema(args: argparse.Namespace, settings: Settings) -> None:
    from gql.schema import build_schema

    sdl = build_schema(settings).as_str() + "\n"
    if args.output:
        try:
            Path(args.output).write_text(sdl, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror}") from exc
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(sdl)


async def _checked(engine: AsyncEngine, work: Callable[[AsyncSession], Awaitable[None]]) -> None:
    await _ensure_migrated(engine)
    await _in_transaction(engine, work)


class _ProgressBar:
    """A one-line bar on stderr, so stdout stays for results."""

    def __init__(self, total: int, width: int = 30) -> None:
        self.total = total
        self.width = width
        self.enabled = total >= 1_000

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        filled = self.width * done // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        sys.stderr.write(f"\r[{bar}] {done}/{self.total} tasks")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


if __name__ == "__main__":
    main()
