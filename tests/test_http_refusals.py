"""Every 4xx answer of the service is JSON, a GraphQL error body with a code.

The cases are the HTTPExceptions of Strawberry 0.341's view (strawberry/http/
async_base_view.py, base.py) that a FastAPI app can reach, FastAPI's own 404 and 405,
and the body guard's answers.
"""

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from gql.app import create_app
from tests.databases import DatabaseUnderTest

JSON = {"content-type": "application/json"}
ME = "{ me { id } }"

# (method, url, request keyword arguments, status, words of the message)
DEEP_JSON = '{"v":' + "[" * 5_000 + "]" * 5_000 + "}"
DEEP_BODY = ('{"query": "{ me { id } }", "variables": ' + DEEP_JSON + "}").encode()
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    (
        "POST",
        "/graphql",
        {"json": {"query": ME, "operationName": "Nope"}},
        400,
        "Unknown operation",
    ),
    ("POST", "/graphql", {"json": {"query": ""}}, 400, "No GraphQL query"),
    ("POST", "/graphql", {"json": {}}, 400, "No GraphQL query"),
    ("POST", "/graphql", {"json": {"query": None}}, 400, "No GraphQL query"),
    ("POST", "/graphql", {"json": {"query": 1}}, 400, "`query` must be a string"),
    ("POST", "/graphql", {"json": {"query": ME, "variables": 1}}, 400, "`variables` must be"),
    ("POST", "/graphql", {"json": {"query": ME, "variables": []}}, 400, "`variables` must be"),
    ("POST", "/graphql", {"json": {"query": ME, "extensions": "x"}}, 400, "`extensions` must be"),
    ("POST", "/graphql", {"json": {"query": ME, "operationName": 1}}, 400, "Unknown operation"),
    ("POST", "/graphql", {"content": b'"x"', "headers": JSON}, 400, "JSON object"),
    ("POST", "/graphql", {"content": b"[]", "headers": JSON}, 400, "JSON object"),
    ("POST", "/graphql", {"content": b"{", "headers": JSON}, 400, "not valid JSON"),
    ("POST", "/graphql", {"content": b'{"query": "\xff"}', "headers": JSON}, 400, "UTF-8"),
    ("POST", "/graphql", {"content": b"{}"}, 415, "Unsupported content type"),
    (
        "POST",
        "/graphql",
        {"content": b"{ me { id } }", "headers": {"content-type": "application/graphql"}},
        415,
        "Unsupported content type",
    ),
    (
        "POST",
        "/graphql",
        {"content": b"query=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        415,
        "Unsupported content type",
    ),
    (
        "POST",
        "/graphql",
        {"content": b"--x--", "headers": {"content-type": "multipart/form-data; boundary=x"}},
        415,
        "Unsupported content type",
    ),
    ("POST", "/graphql", {"content": b" " * 1_048_577, "headers": JSON}, 413, "exceeds"),
    ("GET", "/graphql?query=mutation{deleteTask(id:1)}", {}, 405, "mutations are not allowed"),
    ("GET", "/graphql?query=%7Bme%7Bid%7D%7D&variables=notjson", {}, 400, "not valid JSON"),
    ("GET", "/graphql?query=%7Bme%7Bid%7D%7D&extensions=%7B", {}, 400, "not valid JSON"),
    # Past the interpreter's recursion limit json.loads raises RecursionError: these were 500s.
    ("POST", "/graphql", {"content": DEEP_BODY, "headers": JSON}, 400, "nested too deeply"),
    ("GET", f"/graphql?query=%7Bme%7Bid%7D%7D&variables={DEEP_JSON}", {}, 400, "nested too deeply"),
    (
        "GET",
        f"/graphql?query=%7Bme%7Bid%7D%7D&extensions={DEEP_JSON}",
        {},
        400,
        "nested too deeply",
    ),
    ("GET", "/graphql", {"headers": {"accept": "application/json"}}, 400, "No GraphQL query"),
    ("GET", "/graphql?query=", {}, 400, "No GraphQL query"),
    ("GET", "/graphql?operationName=X&query=%7Bme%7Bid%7D%7D", {}, 400, "Unknown operation"),
    ("HEAD", "/graphql?query=%7Bme%7Bid%7D%7D", {}, 405, ""),
    ("PUT", "/graphql", {"json": {"query": ME}}, 405, "GET, POST"),
    ("DELETE", "/graphql", {}, 405, "GET, POST"),
    ("PATCH", "/graphql", {}, 405, "GET, POST"),
    ("POST", "/healthz", {}, 405, "Method Not Allowed"),
    ("GET", "/no-such-path", {}, 404, "Not Found"),
    ("GET", "/graphiql-assets/no-such-file.js", {}, 404, "Not Found"),
]


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "words"),
    CASES,
    ids=[f"{c[0]} {c[1][:40]} {c[3]} {c[4][:20]}" for c in CASES],
)
async def test_every_refusal_is_a_json_graphql_error_with_a_code(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    kwargs: dict[str, Any],
    status: int,
    words: str,
) -> None:
    response = await http.request(method, url, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    if method == "HEAD":
        assert response.headers["allow"] == "GET, POST"
        return
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    expected = "NOT_FOUND" if status == 404 else "BAD_USER_INPUT"
    assert error["extensions"] == {"code": expected}
    assert words in error["message"]


async def test_405_names_the_methods_a_client_may_use(http: httpx.AsyncClient) -> None:
    over_get = await http.get("/graphql", params={"query": "mutation { deleteTask(id: 1) }"})
    assert over_get.headers["allow"] == "POST"
    put = await http.put("/graphql")
    assert put.headers["allow"] == "GET, POST"


async def test_a_well_formed_get_query_still_answers(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_fastapi_parameter_errors_are_graphql_errors_too(
    database: DatabaseUnderTest, engine: AsyncEngine
) -> None:
    """No route of the service takes typed parameters today; one that does answers its
    422 in the same shape, through the handler create_app installs."""
    app = create_app(database.settings(), engine=engine)

    @app.get("/typed")
    async def typed(n: int) -> dict[str, int]:
        return {"n": n}

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        assert (await http.get("/typed", params={"n": 2})).json() == {"n": 2}
        response = await http.get("/typed", params={"n": "two"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("query.n: ") and "two" not in error["message"]
