"""/metrics after real requests: the families, their labels and plausible values."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from db.pool_stats import pool_stats
from db.settings import Settings
from gql.app import create_app
from tests.databases import DatabaseUnderTest
from tests.factories import Member
from tests.graphql_client import GraphQLClient
from tests.scrape import Samples, parse

FAMILIES = {
    "taskql_graphql_operations",
    "taskql_graphql_duration_seconds",
    "taskql_graphql_errors",
    "taskql_graphql_sql_statements",
    "taskql_http_requests",
    "taskql_known_reads",
    "taskql_db_pool_size",
    "taskql_db_pool_connections",
    "taskql_db_pool_checked_out",
    "taskql_db_pool_overflow",
    "taskql_db_pool_waiting",
    "taskql_db_pool_waits",
    "taskql_db_pool_wait_seconds",
    "taskql_db_pool_timeouts",
    "taskql_subscriptions_open",
    "taskql_subscription_delivery_lag_seconds",
}


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@asynccontextmanager
async def app_client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        yield http


async def test_metrics_after_good_and_failing_requests(
    database: DatabaseUnderTest, member: Member, engine: AsyncEngine
) -> None:
    # An app of its own: the suite's shared app has long used up its operation-name cap.
    async with app_client(database.settings(), engine) as http:
        gql = GraphQLClient(http, member.token)
        name = f"Me{uuid.uuid4().hex[:8]}"
        before = await scrape(http)
        for _ in range(3):
            assert (await gql(f"query {name} {{ me {{ handle }} }}")).data
        missing = await gql(
            'mutation Missing { updateTask(id: "987654321", input: {title: "x"}) { id } }'
        )
        assert missing.codes == ["NOT_FOUND"]
        anonymous = await gql("{ me { handle } }", token=None)
        assert anonymous.codes == ["UNAUTHENTICATED"]
        assert (await gql("query { nope")).codes == ["BAD_USER_INPUT"]
        too_large = await http.post("/graphql", content=b"x" * 2_000_000)
        assert too_large.status_code == 413
        after = await scrape(http)

        assert after.families >= FAMILIES, FAMILIES - after.families

        def delta(sample: str, **labels: str) -> float:
            return after.get(sample, **labels) - before.get(sample, **labels)

        ops = "taskql_graphql_operations_total"
        assert delta(ops, operation_type="query", operation_name=name) == 3
        assert delta(ops, operation_type="mutation", operation_name="Missing") == 1
        assert delta(ops, operation_type="query", operation_name="(anonymous)") == 1
        # The syntax error and the refused body carried no valid operation.
        assert delta(ops, operation_type="invalid", operation_name="(none)") == 2

        errors = "taskql_graphql_errors_total"
        assert delta(errors, operation_type="mutation", code="NOT_FOUND") == 1
        assert delta(errors, operation_type="query", code="UNAUTHENTICATED") == 1
        assert delta(errors, operation_type="invalid", code="BAD_USER_INPUT") == 2

        duration = "taskql_graphql_duration_seconds"
        count = delta(f"{duration}_count", operation_type="query", operation_name=name)
        assert count == 3
        seconds = delta(f"{duration}_sum", operation_type="query", operation_name=name)
        assert 0 < seconds < 30
        assert (
            delta(f"{duration}_bucket", operation_type="query", operation_name=name, le="+Inf") == 3
        )

        # `{ me }` costs the token lookup and the worker: a statement or two, never zero.
        statements = "taskql_graphql_sql_statements"
        queries = before.total(f"{statements}_count", operation_type="query")
        assert after.total(f"{statements}_count", operation_type="query") - queries == 4
        sql = delta(f"{statements}_sum", operation_type="query")
        assert 3 <= sql <= 4 * 4
        # A document that did not parse never reached the database.
        assert delta(f"{statements}_sum", operation_type="invalid") == 0

        http_requests = "taskql_http_requests_total"
        assert delta(http_requests, route="/graphql", status="200") == 6
        assert delta(http_requests, route="/graphql", status="413") == 1
        assert delta(http_requests, route="/metrics", status="200") == 1

        stats = pool_stats(engine)
        assert stats is not None
        assert after.get("taskql_db_pool_size") == stats.size
        assert after.get("taskql_db_pool_checked_out") == 0  # a scrape needs no connection
        assert 1 <= after.get("taskql_db_pool_connections") <= stats.size
        assert after.get("taskql_db_pool_overflow") == 0
        assert after.get("taskql_db_pool_waiting") == 0
        # No socket is open here; counts of earlier tests' subscriptions stay in the process.
        assert after.get("taskql_subscriptions_open") == 0
        lag_count = "taskql_subscription_delivery_lag_seconds_count"
        assert after.get(lag_count) == before.get(lag_count)


async def test_pool_numbers_show_connections_in_use_and_waits(database: DatabaseUnderTest) -> None:
    """Every connection the pool may open is held elsewhere: a request waits for one,
    and /metrics says so. (SQLite keeps SQLAlchemy's pool sizes: 5 plus 10 overflow.)"""
    import asyncio
    from contextlib import AsyncExitStack

    from sqlalchemy import text

    from db.engine import create_engine
    from tests.factories import make_member

    settings = database.settings(pool_size=1, max_overflow=0, pool_timeout_seconds=30)
    engine = create_engine(settings)
    limit = engine.sync_engine.pool.size() + engine.sync_engine.pool._max_overflow  # type: ignore[attr-defined]
    try:
        member = await make_member(engine)
        async with app_client(settings, engine) as http:
            before = await scrape(http)
            client = GraphQLClient(http, member.token)
            async with AsyncExitStack() as held:
                for _ in range(limit):
                    connection = await held.enter_async_context(engine.connect())
                    await connection.execute(text("SELECT 1"))
                waiting = asyncio.create_task(client("{ me { handle } }"))
                for _ in range(200):
                    await asyncio.sleep(0.01)
                    during = await scrape(http)
                    if during.get("taskql_db_pool_waiting") >= 1:
                        break
                # The request, and on PostgreSQL possibly the event machinery's wake-up
                # (its NOTIFY and probe take pooled connections too).
                assert during.get("taskql_db_pool_waiting") >= 1
                assert during.get("taskql_db_pool_checked_out") == limit
                assert during.get("taskql_db_pool_connections") == limit
                assert during.get("taskql_db_pool_overflow") == limit - during.get(
                    "taskql_db_pool_size"
                )
            assert (await waiting).data["me"]["handle"] == "@tester"
            for _ in range(200):  # the event machinery's wake-up may still hold the one
                after = await scrape(http)
                if after.get("taskql_db_pool_checked_out") == 0:
                    break
                await asyncio.sleep(0.01)
    finally:
        await engine.dispose()
    assert after.get("taskql_db_pool_waiting") == 0
    assert after.get("taskql_db_pool_checked_out") == 0
    assert after.get("taskql_db_pool_waits_total") - before.get("taskql_db_pool_waits_total") >= 1
    waited = after.get("taskql_db_pool_wait_seconds_total") - before.get(
        "taskql_db_pool_wait_seconds_total"
    )
    assert 0 < waited < 30


async def test_operation_names_are_capped(database: DatabaseUnderTest, engine: AsyncEngine) -> None:
    from tests.factories import make_member

    member = await make_member(engine)
    settings = database.settings(metrics_max_operation_names=2)
    names = [f"Capped{uuid.uuid4().hex[:8]}" for _ in range(4)]
    async with app_client(settings, engine) as http:
        client = GraphQLClient(http, member.token)
        before = await scrape(http)
        for name in names:
            assert (await client(f"query {name} {{ me {{ handle }} }}")).data
        # Names of invalid operations never take a series.
        assert (await client("query NotAField { nope }")).codes == ["BAD_USER_INPUT"]
        after = await scrape(http)
    ops = "taskql_graphql_operations_total"
    assert [after.get(ops, operation_type="query", operation_name=n) for n in names] == [1, 1, 0, 0]
    other = after.get(ops, operation_type="query", operation_name="(other)") - before.get(
        ops, operation_type="query", operation_name="(other)"
    )
    assert other == 2
    assert after.total(ops, operation_name="NotAField") == 0


async def test_metrics_switched_off_or_on_another_port_are_not_routes(
    database: DatabaseUnderTest, engine: AsyncEngine
) -> None:
    for settings in (
        database.settings(metrics=False),
        database.settings(metrics_port=9999),
    ):
        async with app_client(settings, engine) as http:
            response = await http.get("/metrics")
            assert response.status_code == 404
            assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            assert (await http.get("/healthz")).status_code == 200
