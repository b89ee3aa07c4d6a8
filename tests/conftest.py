"""Fixtures: every database test runs on SQLite and on a real PostgreSQL server."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db import migrate
from db.engine import create_engine
from db.settings import Settings
from db.statements import StatementCounter
from gql.app import create_app
from tests.databases import (
    DIALECTS,
    DatabaseUnderTest,
    admin_url,
    fresh_database,
    postgresql_unreachable_reason,
)
from tests.factories import Member, make_member
from tests.graphql_client import GraphQLClient
from tests.parity import ParityTransport
from tests.pgbouncer import PgBouncer, PoolerUnavailable
from tests.pgbouncer import start as start_pgbouncer
from tests.tenancy_inspector import TenancyInspector

pytest_plugins = ["tests.leak_guard", "tests.code_checks"]

_pg_unreachable: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    import asyncio

    global _pg_unreachable
    _pg_unreachable = asyncio.run(postgresql_unreachable_reason())
    if _pg_unreachable is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI=true and {_pg_unreachable}: the PostgreSQL half must run")
    print(f"\n\n*** SKIPPING EVERY POSTGRESQL TEST: {_pg_unreachable} ***\n", flush=True)


def require_dialect(dialect: str) -> None:
    if dialect in {"postgresql", "pgbouncer"} and _pg_unreachable is not None:
        pytest.skip(f"no PostgreSQL: {_pg_unreachable}")


def settings_for(url: str, **overrides: object) -> Settings:
    return Settings(database_url=url, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    require_dialect(request.param)
    if request.param == "pgbouncer":
        request.getfixturevalue("pgbouncer")  # started, or every pooler test skipped
    return str(request.param)


@pytest.fixture(scope="session")
def pgbouncer(request: pytest.FixtureRequest) -> Iterator[PgBouncer]:
    """The transaction-mode pooler of the third leg; under CI=true it must start."""
    try:
        bouncer = start_pgbouncer(admin_url())
    except PoolerUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.exit(f"CI=true and PgBouncer cannot start: {exc}", returncode=1)
        capture = request.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled():  # printed now, not kept for a failure
            print(f"\n\n*** SKIPPING EVERY PGBOUNCER TEST: {exc} ***\n", flush=True)
        pytest.skip(f"no PgBouncer: {exc}")
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("databases")


@pytest.fixture(scope="session")
async def database(
    dialect: str, db_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[DatabaseUnderTest]:
    """One migrated database per dialect for the whole run; tests isolate by team."""
    server_dialect = "postgresql" if dialect == "pgbouncer" else dialect
    async with fresh_database(server_dialect, db_dir) as db:
        migration_engine = create_engine(settings_for(db.url), for_migrations=True, poolless=True)
        await migrate.upgrade(migration_engine)
        await migration_engine.dispose()
        yield request.getfixturevalue("pgbouncer").fronting(db) if dialect == "pgbouncer" else db


_tenancy = TenancyInspector()


@pytest.fixture(scope="session")
async def engine(database: DatabaseUnderTest) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.settings())
    _tenancy.install(engine)
    yield engine
    _tenancy.remove(engine)
    await engine.dispose()


@pytest.fixture(autouse=True)
def planned_statements_name_the_team() -> Iterator[None]:
    """Fails the test in which the planned path issued a statement that reads a tenant
    table without its team (tests/tenancy_inspector.py)."""
    before = len(_tenancy.violations)
    yield
    assert _tenancy.violations[before:] == []


def tenancy_inspector() -> TenancyInspector:
    return _tenancy


@pytest.fixture(scope="session")
async def http(
    database: DatabaseUnderTest, engine: AsyncEngine
) -> AsyncIterator[httpx.AsyncClient]:
    """The app, with every read also answered by the resolver path and compared (tests/parity.py)."""
    app = create_app(database.settings(), engine=engine)
    reference_engine = create_engine(database.settings())
    reference = create_app(
        database.settings(planner=False), engine=reference_engine, observed=False
    )
    async with (
        app.router.lifespan_context(app),
        reference.router.lifespan_context(reference),
        httpx.AsyncClient(
            transport=ParityTransport(app, reference), base_url="http://test"
        ) as http,
    ):
        yield http
    await reference_engine.dispose()


@pytest.fixture
async def member(engine: AsyncEngine) -> Member:
    """A new team with one worker and a token: tests never see each other's rows."""
    return await make_member(engine)


@pytest.fixture
def gql(http: httpx.AsyncClient, member: Member) -> GraphQLClient:
    return GraphQLClient(http, member.token)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    with StatementCounter(engine) as counter:
        yield counter
