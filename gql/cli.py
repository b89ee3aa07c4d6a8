"""The `taskql` command: serve, migrate, teams, workers, tokens, seed, export-schema.

Every failure is one line on stderr and a non-zero exit, never a traceback.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from db import migrate
from db.engine import DatabaseUrlError, create_engine, create_session_factory
from db.errors import DomainError
from db.events.listener import announcing
from db.models import Team, TeamCreate, WorkerCreate
from db.seed import DEMO_TEAM_SLUG, seed_demo, seed_tasks
from db.services import tokens
from db.services.caller import Caller
from db.services.teams import teams
from db.services.workers import workers
from db.settings import DEFAULT_DATABASE_URL, Settings
from gql.errors import describe_validation_error, is_connection_failure

EXIT_FAILURE = 1


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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="taskql", description="GraphQL API for the work of teams of people and AI agents."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    serve = commands.add_parser("serve", help="apply migrations and serve /graphql")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=int, default=1, help="server processes (each with its own pool)"
    )
    serve.set_defaults(run=_serve)

    mig = commands.add_parser("migrate", help="upgrade the database to the newest schema")
    mig.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION (e.g. base)")
    mig.set_defaults(run=_migrate)

    team = commands.add_parser("team", help="manage teams").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    team_create = team.add_parser("create", help="create a team")
    team_create.add_argument("slug")
    team_create.add_argument("--name", required=True)
    team_create.set_defaults(run=_team_create)

    worker = commands.add_parser("worker", help="manage workers").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    worker_create = worker.add_parser("create", help="create a worker")
    worker_create.add_argument("--team", required=True, metavar="SLUG")
    worker_create.add_argument("--handle", required=True, metavar="@HANDLE")
    worker_create.add_argument("--name", required=True)
    worker_create.add_argument("--type", required=True, choices=["human", "agent"], type=str.lower)
    worker_create.set_defaults(run=_worker_create)

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    token_create = token.add_parser("create", help="create a token; prints it once")
    token_create.add_argument("--team", required=True, metavar="SLUG")
    token_create.add_argument("--worker", required=True, metavar="@HANDLE")
    token_create.add_argument("--label")
    token_create.set_defaults(run=_token_create)
    token_revoke = token.add_parser("revoke", help="revoke a token")
    token_revoke.add_argument("token_id", type=int, metavar="TOKEN_ID")
    token_revoke.set_defaults(run=_token_revoke)

    seed = commands.add_parser("seed", help="add demo data or bulk tasks")
    seed.add_argument("--demo", action="store_true", help="the demo team (idempotent)")
    seed.add_argument("--tasks", type=int, metavar="N", help="add N tasks in trees to a team")
    seed.add_argument("--team", default=DEMO_TEAM_SLUG, metavar="SLUG", help="for --tasks")
    seed.set_defaults(run=_seed)

    export = commands.add_parser("export-schema", help="write the GraphQL SDL")
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
        await tokens.revoke(session, args.token_id)
        print(f"revoked token {args.token_id}")

    _run_db(settings, lambda engine: _checked(engine, work))


def _seed(args: argparse.Namespace, settings: Settings) -> None:
    if not args.demo and args.tasks is None:
        raise CliError("seed needs --demo, --tasks N or both")
    if args.tasks is not None and args.tasks < 1:
        raise CliError("--tasks must be at least 1")

    async def work(engine: AsyncEngine) -> None:
        await _ensure_migrated(engine)
        token: str | None = None
        if args.demo:
            async with create_session_factory(engine)() as session, session.begin():
                result = await seed_demo(session)
            print(
                "created the demo team" if result.created else "the demo team exists already",
                f"(slug {DEMO_TEAM_SLUG})",
            )
            token = result.token
        if args.tasks:
            async with create_session_factory(engine)() as session, session.begin():
                team = await teams.require_slug(session, args.team)
                assert team.id is not None
                bar = _ProgressBar(args.tasks)
                await seed_tasks(session, team.id, args.tasks, progress=bar.update)
                bar.close()
            print(f"added {args.tasks} tasks to team {args.team}")
        if token is not None:
            print("token for @alice; send it as 'Authorization: Bearer <token>':")
            print(token)

    _run_db(settings, work)


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    import uvicorn

    from gql.app import create_app

    demo_token: list[str] = []

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
                demo_token.append((await seed_demo(session)).token)

    _run_db(settings, prepare)
    url = f"http://{args.host}:{args.port}/graphql"
    if demo_token:
        print("First run: created the demo team with workers, projects and tasks.")
        print(f"GraphiQL: {url}  (add the header  Authorization: Bearer <token>)")
        print("token for @alice, shown only once:")
        print(demo_token[0], flush=True)
    else:
        print(f"serving GraphQL at {url}", flush=True)
    # A socket message is bounded like an HTTP body (uvicorn's default is 16 MiB); open
    # subscriptions get a few seconds to close on shutdown, not forever.
    limits: dict[str, Any] = {
        "ws_max_size": settings.max_body_bytes,
        "timeout_graceful_shutdown": 5,
    }
    if args.workers == 1:
        uvicorn.run(
            create_app(settings), host=args.host, port=args.port, log_level="info", **limits
        )
    else:
        # Each process builds its own app (and engine) from the same environment.
        uvicorn.run(
            "gql.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="info",
            **limits,
        )


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
