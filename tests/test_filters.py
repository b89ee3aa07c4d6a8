"""`where` inputs: every operator, composition and relationship filter, alike on both databases."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import AssignmentRole, TaskPriority, TaskStatus
from tests.factories import Member, add_project, add_task, add_worker
from tests.graphql_client import GraphQLClient

TASKS = "query ($w: TaskWhere) { tasks(where: $w, first: 100) { totalCount nodes { title } } }"


@pytest.fixture
async def titles(engine: AsyncEngine, member: Member) -> dict[str, int]:
    """Six tasks whose titles exercise matching; two projects; assignments."""
    web = await add_project(engine, member, slug="web", name="Website")
    api = await add_project(engine, member, slug="api", name="API")
    ada = await add_worker(engine, member, handle="@ada")
    bot = await add_worker(engine, member, handle="@bot")
    ids = {}
    specs = [
        (
            "100% done",
            web,
            TaskStatus.COMPLETED,
            TaskPriority.LOW,
            100,
            datetime(2026, 3, 1, tzinfo=UTC),
            {ada: AssignmentRole.ASSIGNEE},
        ),
        (
            "snake_case name",
            web,
            TaskStatus.PENDING,
            TaskPriority.HIGH,
            0,
            None,
            {bot: AssignmentRole.REVIEWER},
        ),
        (
            "Snake Case Name",
            api,
            TaskStatus.IN_PROGRESS,
            TaskPriority.MEDIUM,
            50,
            datetime(2026, 3, 5, tzinfo=UTC),
            {},
        ),
        (
            "snakeXcase",
            api,
            TaskStatus.PENDING,
            TaskPriority.HIGH,
            10,
            datetime(2026, 3, 9, tzinfo=UTC),
            {ada: AssignmentRole.REVIEWER, bot: AssignmentRole.ASSIGNEE},
        ),
        ("Écrire la doc", None, TaskStatus.PENDING, TaskPriority.LOW, 20, None, {}),
    ]
    for title, project, status, priority, progress, due, assignees in specs:
        ids[title] = await add_task(
            engine,
            member,
            title=title,
            project_id=project,
            status=status,
            priority=priority,
            progress_percent=progress,
            due_date=due,
            assignees=assignees,
        )
    ids["child of snakeXcase"] = await add_task(
        engine, member, title="child of snakeXcase", parent_id=ids["snakeXcase"], project_id=api
    )
    return ids


async def matching(gql: GraphQLClient, where: dict) -> list[str]:  # type: ignore[type-arg]
    response = await gql(TASKS, {"w": where})
    assert not response.errors, response.errors
    data = response.data["tasks"]
    assert data["totalCount"] == len(data["nodes"])
    return sorted(node["title"] for node in data["nodes"])


CASES = [
    ({"title": {"eq": "snakeXcase"}}, ["snakeXcase"]),
    (
        {"title": {"ne": "snakeXcase"}},
        ["100% done", "Snake Case Name", "child of snakeXcase", "snake_case name", "Écrire la doc"],
    ),
    ({"title": {"in": ["snakeXcase", "nope"]}}, ["snakeXcase"]),
    ({"title": {"in": []}}, []),
    ({"title": {"contains": "_case"}}, ["snake_case name"]),  # `_` is literal
    ({"title": {"contains": "%"}}, ["100% done"]),  # `%` is literal
    (
        {"title": {"contains": "SNAKE"}},
        ["Snake Case Name", "child of snakeXcase", "snake_case name", "snakeXcase"],
    ),
    ({"title": {"startsWith": "snake"}}, ["Snake Case Name", "snake_case name", "snakeXcase"]),
    ({"title": {"startsWith": "snake_"}}, ["snake_case name"]),
    ({"title": {"like": "snake%"}}, ["snakeXcase", "snake_case name"]),  # like is case-sensitive
    (
        {"title": {"like": "snake_case%"}},
        ["snakeXcase", "snake_case name"],
    ),  # `_` is a wildcard in like
    ({"title": {"ilike": "SNAKE%NAME"}}, ["Snake Case Name", "snake_case name"]),
    ({"description": {"isNull": True}, "title": {"startsWith": "100"}}, ["100% done"]),
    (
        {"status": {"eq": "PENDING"}},
        ["child of snakeXcase", "snake_case name", "snakeXcase", "Écrire la doc"],
    ),
    ({"status": {"notIn": ["PENDING", "COMPLETED"]}}, ["Snake Case Name"]),
    (
        {"priority": {"ne": "LOW"}, "status": {"ne": "IN_PROGRESS"}},
        ["child of snakeXcase", "snake_case name", "snakeXcase"],
    ),
    (
        {"progressPercent": {"between": [10, 50]}},
        ["Snake Case Name", "snakeXcase", "Écrire la doc"],
    ),
    (
        {"progressPercent": {"gt": 10, "lte": 100}},
        ["100% done", "Snake Case Name", "Écrire la doc"],
    ),
    ({"dueDate": {"isNull": True}}, ["child of snakeXcase", "snake_case name", "Écrire la doc"]),
    # A null matches no comparison, ne and notIn included.
    ({"dueDate": {"ne": "2026-03-01T00:00:00Z"}}, ["Snake Case Name", "snakeXcase"]),
    ({"dueDate": {"gte": "2026-03-05T00:00:00+00:00"}}, ["Snake Case Name", "snakeXcase"]),
    (
        {"dueDate": {"lt": "2026-03-05T02:00:00+01:00"}},
        ["100% done", "Snake Case Name"],
    ),  # offsets honoured
    (
        {"dueDate": {"between": ["2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"]}},
        ["Snake Case Name", "snakeXcase"],
    ),
    (
        {"or": [{"title": {"eq": "snakeXcase"}}, {"progressPercent": {"eq": 100}}]},
        ["100% done", "snakeXcase"],
    ),
    ({"or": []}, []),
    (
        {"and": [{"title": {"contains": "snake"}}, {"title": {"contains": "name"}}]},
        ["Snake Case Name", "snake_case name"],
    ),
    # not() of a comparison that is unknown for nulls still keeps the null rows.
    (
        {"not": {"dueDate": {"lt": "2026-03-08T00:00:00Z"}}},
        ["child of snakeXcase", "snake_case name", "snakeXcase", "Écrire la doc"],
    ),
    (
        {"not": {"or": [{"status": {"eq": "PENDING"}}, {"status": {"eq": "COMPLETED"}}]}},
        ["Snake Case Name"],
    ),
    ({"project": {"slug": {"eq": "web"}}}, ["100% done", "snake_case name"]),
    (
        {"project": {"name": {"contains": "api"}}, "parentId": {"isNull": True}},
        ["Snake Case Name", "snakeXcase"],
    ),
    ({"projectId": {"isNull": True}}, ["Écrire la doc"]),
    ({"parent": {"title": {"eq": "snakeXcase"}}}, ["child of snakeXcase"]),
    ({"parent": {"project": {"slug": {"eq": "api"}}}}, ["child of snakeXcase"]),
    ({"assignees": {"handle": {"eq": "@ada"}}}, ["100% done", "snakeXcase"]),
    (
        {"assignees": {"handle": {"in": ["@ada", "@bot"]}}},
        ["100% done", "snake_case name", "snakeXcase"],
    ),
    (
        {"not": {"assignees": {"handle": {"eq": "@ada"}}}},
        ["Snake Case Name", "child of snakeXcase", "snake_case name", "Écrire la doc"],
    ),
]


@pytest.mark.parametrize(("where", "expected"), CASES, ids=[str(i) for i in range(len(CASES))])
async def test_filter(
    gql: GraphQLClient, titles: dict[str, int], where: dict, expected: list[str]
) -> None:  # type: ignore[type-arg]
    assert await matching(gql, where) == sorted(expected)


async def test_id_filters_take_string_ids(gql: GraphQLClient, titles: dict[str, int]) -> None:
    some = titles["snakeXcase"]
    assert await matching(gql, {"id": {"eq": str(some)}}) == ["snakeXcase"]
    assert await matching(gql, {"parentId": {"in": [some]}}) == ["child of snakeXcase"]


@pytest.mark.parametrize(
    ("where", "fragment"),
    [
        ({"progressPercent": {"between": [1]}}, "exactly two"),
        ({"progressPercent": {"between": [1, 2, 3]}}, "exactly two"),
        ({"id": {"eq": "abc"}}, "not an id"),
        ({"title": {"eq": None}}, "isNull"),
        ({"status": {"eq": "DONE"}}, "DONE"),
    ],
)
async def test_bad_filters_are_bad_user_input(
    gql: GraphQLClient,
    titles: dict[str, int],
    where: dict,
    fragment: str,  # type: ignore[type-arg]
) -> None:
    response = await gql(TASKS, {"w": where})
    assert response.codes == ["BAD_USER_INPUT"], response.body
    assert fragment in response.errors[0]["message"]
    assert response.body.get("data") is None


async def test_task_stats_follow_the_filter(gql: GraphQLClient, titles: dict[str, int]) -> None:
    query = """query ($w: TaskWhere) { taskStats(where: $w) { total averageProgress
        byStatus { status count } } }"""
    stats = (await gql(query, {"w": {"project": {"slug": {"eq": "web"}}}})).data["taskStats"]
    assert stats["total"] == 2
    assert stats["averageProgress"] == 50.0
    assert stats["byStatus"] == [
        {"status": "PENDING", "count": 1},
        {"status": "IN_PROGRESS", "count": 0},
        {"status": "COMPLETED", "count": 1},
    ]
    empty = (await gql(query, {"w": {"title": {"eq": "nothing"}}})).data["taskStats"]
    assert empty == {
        "total": 0,
        "averageProgress": None,
        "byStatus": [{"status": s, "count": 0} for s in ("PENDING", "IN_PROGRESS", "COMPLETED")],
    }


async def test_relationship_filters_through_one_table_twice(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    """Each level of `parent: {parent: ...}` is its own alias: grandchildren are found."""
    web = await add_project(engine, member, slug="deep", name="Deep")
    ada = await add_worker(engine, member, handle="@ada")
    root = await add_task(engine, member, title="root", project_id=web)
    other = await add_task(engine, member, title="other root")
    child = await add_task(engine, member, title="child", parent_id=root, project_id=web)
    await add_task(engine, member, title="other child", parent_id=other)
    grand = await add_task(
        engine,
        member,
        title="grandchild",
        parent_id=child,
        project_id=web,
        assignees={ada: AssignmentRole.ASSIGNEE},
    )
    await add_task(engine, member, title="great-grandchild", parent_id=grand, project_id=web)
    cases: list[tuple[dict, list[str]]] = [  # type: ignore[type-arg]
        ({"parent": {"parent": {"id": {"eq": str(root)}}}}, ["grandchild"]),
        ({"parent": {"parent": {"title": {"eq": "root"}}}}, ["grandchild"]),
        ({"parent": {"parent": {"parent": {"id": {"eq": str(root)}}}}}, ["great-grandchild"]),
        (
            {"parent": {"parent": {"project": {"slug": {"eq": "deep"}}}}},
            ["grandchild", "great-grandchild"],
        ),
        (
            {
                "parent": {
                    "assignees": {"handle": {"eq": "@ada"}},
                    "parent": {"id": {"eq": str(child)}},
                }
            },
            ["great-grandchild"],
        ),
        (
            {"parent": {"parent": {"parentId": {"isNull": True}}}},
            ["grandchild"],
        ),
        (
            {
                "not": {"parent": {"parent": {"id": {"eq": str(root)}}}},
                "parentId": {"isNull": False},
            },
            ["child", "other child", "great-grandchild"],
        ),
    ]
    for where, expected in cases:
        assert sorted(await matching(gql, where)) == sorted(expected), where
