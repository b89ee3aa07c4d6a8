"""Every query and nested field of the contract, answered from a known dataset."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import AssignmentRole, AuditAction
from db.services.catalog import AUDIT
from tests.databases import DatabaseUnderTest
from tests.factories import Member, add_project, add_task, add_worker
from tests.graphql_client import GraphQLClient


async def _tree(engine: AsyncEngine, member: Member) -> dict[str, int]:
    project = await add_project(engine, member, slug="launch", name="Launch")
    ada = await add_worker(engine, member, handle="@ada")
    bot = await add_worker(engine, member, handle="@bot")
    ids = {"project": project, "ada": ada, "bot": bot}
    ids["root"] = await add_task(
        engine,
        member,
        title="root",
        project_id=project,
        assignees={ada: AssignmentRole.ASSIGNEE, bot: AssignmentRole.REVIEWER},
    )
    ids["a"] = await add_task(engine, member, title="a", project_id=project, parent_id=ids["root"])
    ids["b"] = await add_task(
        engine,
        member,
        title="b",
        project_id=project,
        parent_id=ids["root"],
        assignees={bot: AssignmentRole.ASSIGNEE},
    )
    ids["a1"] = await add_task(engine, member, title="a1", project_id=project, parent_id=ids["a"])
    ids["a1x"] = await add_task(
        engine, member, title="a1x", project_id=project, parent_id=ids["a1"]
    )
    ids["b1"] = await add_task(engine, member, title="b1", project_id=project, parent_id=ids["b"])
    return ids


async def test_task_with_every_nested_field(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    ids = await _tree(engine, member)
    query = """query ($id: ID!) { task(id: $id) {
        id title status priority progressPercent dueDate createdAt updatedAt projectId parentId
        project { id slug name }
        parent { id }
        subtasks { totalCount nodes { title } }
        assignments { role assignedAt task { title } worker { handle } }
        workers { handle }
        reviewers: workers(role: REVIEWER) { handle }
        assignees: workers(role: ASSIGNEE) { handle }
        ancestors { title }
        descendants { title }
        children: descendants(maxDepth: 1) { title }
        two: descendants(maxDepth: 2) { title }
        none: descendants(maxDepth: 0) { title }
    } }"""
    task = (await gql(query, {"id": ids["root"]})).data["task"]
    assert task["id"] == str(ids["root"])
    assert (task["status"], task["priority"], task["progressPercent"]) == ("PENDING", "MEDIUM", 0)
    assert task["dueDate"] is None and task["parentId"] is None and task["parent"] is None
    assert task["projectId"] == str(ids["project"])
    assert task["project"] == {"id": str(ids["project"]), "slug": "launch", "name": "Launch"}
    assert task["createdAt"].endswith(("+00:00", "Z"))
    assert task["subtasks"] == {"totalCount": 2, "nodes": [{"title": "a"}, {"title": "b"}]}
    assert [
        (a["role"], a["worker"]["handle"], a["task"]["title"]) for a in task["assignments"]
    ] == [
        ("ASSIGNEE", "@ada", "root"),
        ("REVIEWER", "@bot", "root"),
    ]
    assert task["workers"] == [{"handle": "@ada"}, {"handle": "@bot"}]
    assert task["reviewers"] == [{"handle": "@bot"}]
    assert task["assignees"] == [{"handle": "@ada"}]
    assert task["ancestors"] == []
    # breadth-first: level by level, by id within a level
    assert [d["title"] for d in task["descendants"]] == ["a", "b", "a1", "b1", "a1x"]
    assert [d["title"] for d in task["children"]] == ["a", "b"]
    assert [d["title"] for d in task["two"]] == ["a", "b", "a1", "b1"]
    assert task["none"] == []

    deep = (await gql(query, {"id": ids["a1x"]})).data["task"]
    assert [a["title"] for a in deep["ancestors"]] == ["root", "a", "a1"]  # root first
    assert deep["parent"] == {"id": str(ids["a1"])}
    assert deep["descendants"] == []


async def test_negative_max_depth_is_bad_user_input(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    ids = await _tree(engine, member)
    response = await gql(
        "query ($id: ID!) { task(id: $id) { descendants(maxDepth: -1) { id } } }",
        {"id": ids["root"]},
    )
    assert response.codes == ["BAD_USER_INPUT"]


async def test_lookups(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> None:
    ids = await _tree(engine, member)
    q = """query ($t: ID!, $p: ID, $s: String, $w: ID, $h: String) {
        task(id: $t) { title } project(id: $p, slug: $s) { slug } worker(id: $w, handle: $h) { handle } }"""
    data = (await gql(q, {"t": str(ids["a"]), "p": ids["project"], "w": ids["ada"]})).data
    assert data == {
        "task": {"title": "a"},
        "project": {"slug": "launch"},
        "worker": {"handle": "@ada"},
    }
    data = (await gql(q, {"t": "987654321", "s": "launch", "h": "bot"})).data
    assert data == {"task": None, "project": {"slug": "launch"}, "worker": {"handle": "@bot"}}
    # Both given: both must match.
    data = (await gql(q, {"t": "0", "p": ids["project"], "s": "other", "h": "@nobody"})).data
    assert data == {"task": None, "project": None, "worker": None}
    bad = await gql(q, {"t": "abc", "s": "launch", "h": "@ada"})
    assert "BAD_USER_INPUT" in bad.codes
    neither = await gql("{ project { slug } }")
    assert neither.codes == ["BAD_USER_INPUT"]


async def test_projects_workers_and_their_fields(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    await _tree(engine, member)
    query = """{
      projects(where: {slug: {eq: "launch"}}) { totalCount nodes {
        slug description createdAt updatedAt
        tasks(where: {parentId: {isNull: true}}) { totalCount nodes { title } }
        stats { total averageProgress byStatus { status count } } } }
      workers(orderBy: [{field: HANDLE, direction: DESC}]) { totalCount nodes {
        handle type
        assignments { role task { title } }
        tasks(orderBy: [{field: TITLE}]) { totalCount nodes { title } } } }
    }"""
    data = (await gql(query)).data
    project = data["projects"]["nodes"][0]
    assert data["projects"]["totalCount"] == 1
    assert project["tasks"] == {"totalCount": 1, "nodes": [{"title": "root"}]}
    assert project["stats"]["total"] == 6
    assert project["stats"]["averageProgress"] == 0.0
    handles = [w["handle"] for w in data["workers"]["nodes"]]
    assert handles == sorted(handles, reverse=True) and "@tester" in handles
    bot = next(w for w in data["workers"]["nodes"] if w["handle"] == "@bot")
    assert [(a["role"], a["task"]["title"]) for a in bot["assignments"]] == [
        ("REVIEWER", "root"),
        ("ASSIGNEE", "b"),
    ]
    assert bot["tasks"] == {"totalCount": 2, "nodes": [{"title": "b"}, {"title": "root"}]}


async def test_audit_log_newest_first_with_filters(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    base = datetime(2026, 5, 1, tzinfo=UTC)
    rows = [
        {
            "action": AuditAction.CREATE,
            "entity_type": "Task",
            "entity_id": "7",
            "actor_id": member.worker_id,
        },
        {
            "action": AuditAction.UPDATE,
            "entity_type": "Task",
            "entity_id": "7",
            "actor_id": member.worker_id,
        },
        {
            "action": AuditAction.CREATE,
            "entity_type": "Project",
            "entity_id": "3",
            "actor_id": None,
        },
    ]
    async with engine.begin() as conn:
        for n, row in enumerate(rows):
            await conn.execute(
                sa.insert(AUDIT),
                {
                    **row,
                    "team_id": member.team_id,
                    "changes": {"title": [None, f"v{n}"]},
                    "created_at": base + timedelta(hours=n),
                },
            )
    query = """query ($w: AuditWhere) { auditLog(where: $w) { totalCount nodes {
        action entityType entityId changes createdAt actor { handle } } } }"""
    log = (await gql(query)).data["auditLog"]
    assert log["totalCount"] == 3
    assert [n["action"] for n in log["nodes"]] == ["CREATE", "UPDATE", "CREATE"]
    assert log["nodes"][0]["entityType"] == "Project" and log["nodes"][0]["actor"] is None
    assert log["nodes"][1]["changes"] == {"title": [None, "v1"]}
    assert log["nodes"][1]["actor"] == {"handle": member.handle}

    async def count(where: dict) -> int:  # type: ignore[type-arg]
        return (await gql(query, {"w": where})).data["auditLog"]["totalCount"]

    assert await count({"entityType": {"eq": "Task"}, "entityId": {"eq": "7"}}) == 2
    assert await count({"action": {"eq": "UPDATE"}}) == 1
    assert await count({"actorId": {"eq": str(member.worker_id)}}) == 2
    assert await count({"createdAt": {"gte": "2026-05-01T01:00:00Z"}}) == 2
    assert (
        await count({"createdAt": {"between": ["2026-05-01T00:30:00Z", "2026-05-01T01:30:00Z"]}})
        == 1
    )


async def test_introspection_can_be_switched_off(
    database: DatabaseUnderTest, engine: AsyncEngine, member: Member
) -> None:
    import httpx

    from gql.app import create_app

    app = create_app(database.settings(introspection=False), engine=engine)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        gql = GraphQLClient(http, member.token)
        refused = await gql("{ __schema { types { name } } }")
        assert refused.codes and set(refused.codes) == {"BAD_USER_INPUT"}
        assert refused.body.get("data") is None
        assert (await gql("{ me { handle } }")).data == {"me": {"handle": member.handle}}


async def test_the_seeded_demo_answers_a_realistic_query(engine: AsyncEngine, http) -> None:  # type: ignore[no-untyped-def]
    from db.engine import create_session_factory
    from db.seed import seed_demo

    async with create_session_factory(engine)() as session, session.begin():
        result = await seed_demo(session)
    gql = GraphQLClient(http, result.token)
    data = (
        await gql("""{ projects { nodes { slug stats { total } tasks(first: 100) { totalCount } } }
        me { handle } }""")
    ).data
    assert data["me"]["handle"] == "@alice"
    assert {p["slug"] for p in data["projects"]["nodes"]} == {"website-relaunch", "api-v2"}
    for project in data["projects"]["nodes"]:
        assert project["stats"]["total"] == project["tasks"]["totalCount"] > 0


async def test_unauthenticated_reads_get_nothing(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    await _tree(engine, member)
    response = await gql("{ tasks { totalCount } }", token=None)
    assert response.codes == ["UNAUTHENTICATED"]
    assert response.body["data"] is None


async def test_a_non_ascii_digit_id_is_bad_user_input(gql: GraphQLClient) -> None:
    response = await gql('{ task(id: "²") { id } }')
    assert response.codes == ["BAD_USER_INPUT"]
