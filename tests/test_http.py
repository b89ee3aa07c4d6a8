"""The HTTP edge: health, readiness, GraphiQL, and bodies Strawberry would answer with a 500."""

from collections.abc import AsyncIterator

import httpx
import pytest

from db.engine import create_engine
from gql.app import create_app
from tests.conftest import settings_for
from tests.databases import DIALECTS

QUERY = {"query": "{ me { id } }"}


async def test_healthz_and_readyz(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


# To the app an unreachable pooler is an unreachable PostgreSQL server: no third case.
@pytest.fixture(params=[dialect for dialect in DIALECTS if dialect != "pgbouncer"])
async def unreachable(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    from tests.conftest import require_dialect

    require_dialect(request.param)
    url = (
        f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/x.db"
        if request.param == "sqlite"
        else "postgresql+asyncpg://postgres@127.0.0.1:1/taskql"  # nothing listens on port 1
    )
    settings = settings_for(url, connect_timeout_seconds=2)
    app = create_app(settings, engine=create_engine(settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


async def test_readyz_is_503_while_the_database_is_down(unreachable: httpx.AsyncClient) -> None:
    response = await unreachable.get("/readyz")
    assert response.status_code == 503
    assert (await unreachable.get("/healthz")).status_code == 200


async def test_graphql_is_503_service_unavailable_while_the_database_is_down(
    unreachable: httpx.AsyncClient,
) -> None:
    response = await unreachable.post(
        "/graphql", json=QUERY, headers={"Authorization": "Bearer tq_whatever"}
    )
    assert response.status_code == 503
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "SELECT" not in response.text and "Errno" not in response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"x"', "JSON object"),
        (b"1", "JSON object"),
        (b"null", "JSON object"),
        (b"[]", "JSON object"),
        (b'{"query": "\xff"}', "UTF-8"),
        (b"{not json", "not valid JSON"),
    ],
)
async def test_bad_bodies_are_400_with_a_graphql_error(
    http: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert message in error["message"]


async def test_oversized_body_is_refused_before_parsing(http: httpx.AsyncClient) -> None:
    padding = " " * (1024 * 1024)
    response = await http.post("/graphql", json={"query": "{ me { id } }" + padding})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphiql_is_served_with_local_assets(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "unpkg.com" not in page.text and "https://" not in page.text.split("<body")[0]
    for asset in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js"):
        assert f"/graphiql-assets/{asset}" in page.text
        served = await http.get(f"/graphiql-assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 1000
