"""Ordering and keyset pagination: every page in order, forwards and backwards, stable under inserts."""

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.databases import DatabaseUnderTest
from tests.datasets import build_forest
from tests.factories import Member, add_task
from tests.graphql_client import GraphQLClient

PAGE = """
query ($first: Int, $after: String, $last: Int, $before: String, $order: [TaskOrderBy!]) {
  tasks(first: $first, after: $after, last: $last, before: $before, orderBy: $order) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id title status priority progressPercent dueDate createdAt } }
  }
}"""

_RANK = {
    "status": ["PENDING", "IN_PROGRESS", "COMPLETED"],
    "priority": ["LOW", "MEDIUM", "HIGH"],
}
_FIELDS = {
    "ID": "id",
    "TITLE": "title",
    "STATUS": "status",
    "PRIORITY": "priority",
    "PROGRESS_PERCENT": "progressPercent",
    "DUE_DATE": "dueDate",
    "CREATED_AT": "createdAt",
}


def expected_order(nodes: list[dict[str, Any]], order: list[dict[str, str]]) -> list[str]:
    """The contract's order, computed independently: nulls last, id as the final tie-breaker."""
    keys = [*order, {"field": "ID", "direction": order[-1]["direction"] if order else "ASC"}]

    def sort_value(node: dict[str, Any], field: str) -> Any:
        value = node[_FIELDS[field]]
        if field == "ID":
            return int(value)
        if field.lower() in _RANK:
            return _RANK[field.lower()].index(value)
        return value

    ordered = list(nodes)
    for key in reversed(keys):  # stable sorts, least significant key first
        desc = key.get("direction") == "DESC"
        present = [n for n in ordered if n[_FIELDS[key["field"]]] is not None]
        missing = [n for n in ordered if n[_FIELDS[key["field"]]] is None]
        present.sort(key=lambda n, f=key["field"]: sort_value(n, f), reverse=desc)
        ordered = present + missing
    return [n["id"] for n in ordered]


async def walk(
    gql: GraphQLClient, order: list[dict[str, str]], size: int, backward: bool = False
) -> list[str]:
    ids: list[str] = []
    cursor = None
    for _ in range(100):
        variables: dict[str, Any] = {"order": order}
        if backward:
            variables |= {"last": size, "before": cursor}
        else:
            variables |= {"first": size, "after": cursor}
        conn = (await gql(PAGE, variables)).data["tasks"]
        page_ids = [edge["node"]["id"] for edge in conn["edges"]]
        ids = page_ids + ids if backward else ids + page_ids
        info = conn["pageInfo"]
        more = info["hasPreviousPage"] if backward else info["hasNextPage"]
        if not more:
            return ids
        cursor = info["startCursor"] if backward else info["endCursor"]
    raise AssertionError("pagination did not end")


ORDERS = [
    [],
    [{"field": "TITLE", "direction": "ASC"}],
    [{"field": "PRIORITY", "direction": "DESC"}],
    [{"field": "STATUS", "direction": "ASC"}, {"field": "PROGRESS_PERCENT", "direction": "DESC"}],
    [{"field": "DUE_DATE", "direction": "ASC"}],
    [{"field": "DUE_DATE", "direction": "DESC"}, {"field": "TITLE", "direction": "ASC"}],
    [{"field": "PRIORITY", "direction": "ASC"}, {"field": "DUE_DATE", "direction": "DESC"}],
    [{"field": "CREATED_AT", "direction": "DESC"}],
]


@pytest.fixture
async def forest_gql(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> GraphQLClient:
    await build_forest(engine, member, roots=6, children_per_root=2, grandchildren_per_child=1)
    return gql  # 6 + 12 + 12 = 30 tasks


@pytest.mark.parametrize(
    "order",
    ORDERS,
    ids=lambda o: "+".join(f"{k['field']}-{k['direction']}" for k in o) or "default",
)
async def test_pages_walk_the_whole_order_both_ways(
    forest_gql: GraphQLClient, order: list[dict[str, str]]
) -> None:
    everything = (await forest_gql(PAGE, {"first": 100, "order": order})).data["tasks"]
    nodes = [edge["node"] for edge in everything["edges"]]
    assert everything["totalCount"] == len(nodes) == 30
    expected = expected_order(nodes, order)
    assert [n["id"] for n in nodes] == expected
    assert await walk(forest_gql, order, 7) == expected
    assert await walk(forest_gql, order, 4, backward=True) == expected


async def test_rows_inserted_meanwhile_neither_repeat_nor_vanish(
    engine: AsyncEngine, member: Member, forest_gql: GraphQLClient
) -> None:
    order = [{"field": "TITLE", "direction": "ASC"}]
    first = (await forest_gql(PAGE, {"first": 10, "order": order})).data["tasks"]
    seen = [edge["node"]["id"] for edge in first["edges"]]
    # One row sorts before the cursor, one after it.
    await add_task(engine, member, title="a-early")
    late = await add_task(engine, member, title="zz-late")
    cursor = first["pageInfo"]["endCursor"]
    rest: list[str] = []
    while cursor:
        conn = (await forest_gql(PAGE, {"first": 10, "after": cursor, "order": order})).data[
            "tasks"
        ]
        rest += [edge["node"]["id"] for edge in conn["edges"]]
        cursor = conn["pageInfo"]["endCursor"] if conn["pageInfo"]["hasNextPage"] else None
    assert len(set(seen + rest)) == len(seen + rest) == 31
    assert rest[-1] == str(late)


async def test_page_info_and_defaults(forest_gql: GraphQLClient) -> None:
    conn = (await forest_gql(PAGE, {})).data["tasks"]
    assert len(conn["edges"]) == 20  # first defaults to 20
    assert conn["pageInfo"]["hasNextPage"] is True
    assert conn["pageInfo"]["hasPreviousPage"] is False
    assert conn["pageInfo"]["startCursor"] == conn["edges"][0]["cursor"]
    assert conn["pageInfo"]["endCursor"] == conn["edges"][-1]["cursor"]
    empty = (await forest_gql(PAGE, {"first": 0})).data["tasks"]
    assert empty["edges"] == [] and empty["pageInfo"]["startCursor"] is None
    assert empty["totalCount"] == 30


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 101},
        {"first": -1},
        {"last": 101},
        {"last": -5},
        {"first": 2, "last": 2},
        {"first": 2, "after": "not-a-cursor"},
        {"first": 2, "after": "eyJ4IjoxfQ"},  # valid base64 JSON, not ours
        {"last": 2, "before": "!!!"},
    ],
)
async def test_bad_windows_are_bad_user_input(
    forest_gql: GraphQLClient, variables: dict[str, Any]
) -> None:
    response = await forest_gql(PAGE, variables)
    assert response.codes == ["BAD_USER_INPUT"], response.body
    assert "SELECT" not in str(response.body)


async def test_cursor_from_another_order_or_connection_is_rejected(
    forest_gql: GraphQLClient,
) -> None:
    by_title = (await forest_gql(PAGE, {"first": 2, "order": [{"field": "TITLE"}]})).data["tasks"]
    cursor = by_title["pageInfo"]["endCursor"]
    response = await forest_gql(
        PAGE, {"first": 2, "after": cursor, "order": [{"field": "PRIORITY"}]}
    )
    assert response.codes == ["BAD_USER_INPUT"]
    assert "orderBy" in response.errors[0]["message"]
    projects = (await forest_gql("{ projects(first: 1) { pageInfo { endCursor } } }")).data
    project_cursor = projects["projects"]["pageInfo"]["endCursor"]
    response = await forest_gql(PAGE, {"first": 2, "after": project_cursor})
    assert response.codes == ["BAD_USER_INPUT"]


async def test_max_page_size_is_configurable(
    database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> None:
    import httpx

    from gql.app import create_app

    app = create_app(database.settings(max_page_size=5), engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        gql = GraphQLClient(http, member.token)
        assert (await gql(PAGE, {"first": 6})).codes == ["BAD_USER_INPUT"]
        assert (await gql(PAGE, {"first": 5})).errors == []


NESTED = """
query ($after: String) {
  projects(first: 5) {
    nodes {
      slug
      two: tasks(first: 2, orderBy: [{field: TITLE}]) { totalCount nodes { title } pageInfo { hasNextPage endCursor } }
      five: tasks(first: 5, orderBy: [{field: TITLE}]) { nodes { title } }
      later: tasks(first: 2, after: $after, orderBy: [{field: TITLE}]) { nodes { title } }
      pending: tasks(where: {status: {eq: PENDING}}) { totalCount }
    }
  }
}"""


async def test_nested_connections_with_different_arguments_do_not_mix(
    forest_gql: GraphQLClient,
) -> None:
    first = (await forest_gql(NESTED)).data["projects"]["nodes"]
    for project in first:
        two = [n["title"] for n in project["two"]["nodes"]]
        five = [n["title"] for n in project["five"]["nodes"]]
        assert len(two) == 2 and len(five) == 5
        assert five[:2] == two
        assert project["two"]["pageInfo"]["hasNextPage"] is True
        assert project["two"]["totalCount"] == 15
        assert 0 < project["pending"]["totalCount"] < 15
    cursor = first[0]["two"]["pageInfo"]["endCursor"]
    later = (await forest_gql(NESTED, {"after": cursor})).data["projects"]["nodes"][0]["later"]
    assert [n["title"] for n in later["nodes"]] == [n["title"] for n in first[0]["five"]["nodes"]][
        2:4
    ]
