"""Projects and workers through mutations: validation, conflicts, partial updates, audit."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Member, add_task, make_member
from tests.graphql_client import GraphQLClient
from tests.mutation_helpers import (
    CREATE_PROJECT,
    PROJECT,
    TASK,
    UPDATE_PROJECT,
    audit_rows,
    count_rows,
)


async def test_project_lifecycle_with_audit(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    made = (await gql(CREATE_PROJECT, {"input": {"name": "Site", "slug": "site"}})).data[
        "createProject"
    ]
    assert made["name"] == "Site" and made["description"] is None
    pid = made["id"]

    updated = (await gql(UPDATE_PROJECT, {"id": pid, "input": {"description": "new"}})).data[
        "updateProject"
    ]
    assert (updated["name"], updated["slug"], updated["description"]) == ("Site", "site", "new")
    assert updated["updatedAt"] >= made["updatedAt"]
    cleared = (await gql(UPDATE_PROJECT, {"id": pid, "input": {"description": None}})).data
    assert cleared["updateProject"]["description"] is None

    await add_task(engine, member, title="inside", project_id=int(pid))
    assert (await gql("mutation ($id: ID!) { deleteProject(id: $id) }", {"id": pid})).data == {
        "deleteProject": pid
    }
    assert await count_rows(engine, PROJECT, member.team_id) == 0
    assert await count_rows(engine, TASK, member.team_id) == 0  # its tasks go with it

    log = [
        (r["action"].name, r["entity_type"], r["changes"])
        for r in await audit_rows(engine, member.team_id)
    ]
    assert log[0] == (
        "CREATE",
        "Project",
        {"name": [None, "Site"], "slug": [None, "site"], "description": [None, None]},
    )
    assert log[1] == ("UPDATE", "Project", {"description": [None, "new"]})
    assert log[2] == ("UPDATE", "Project", {"description": ["new", None]})
    assert [(a, t) for a, t, _ in log[3:]] == [("DELETE", "Task"), ("DELETE", "Project")]
    assert all(r["actor_id"] == member.worker_id for r in await audit_rows(engine, member.team_id))


async def test_project_errors(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> None:
    await gql(CREATE_PROJECT, {"input": {"name": "Site", "slug": "site"}})
    dup = await gql(CREATE_PROJECT, {"input": {"name": "Other", "slug": "site"}})
    assert dup.codes == ["CONFLICT"] and "slug" in dup.errors[0]["message"]
    bad = await gql(CREATE_PROJECT, {"input": {"name": "", "slug": "Not A Slug"}})
    assert bad.codes == ["BAD_USER_INPUT"]
    assert "name" in bad.errors[0]["message"] and "slug" in bad.errors[0]["message"]
    missing = await gql(UPDATE_PROJECT, {"id": "987654", "input": {"name": "x"}})
    assert missing.codes == ["NOT_FOUND"]
    pid = (await gql("{ projects { nodes { id } } }")).data["projects"]["nodes"][0]["id"]
    null_name = await gql(UPDATE_PROJECT, {"id": pid, "input": {"name": None}})
    assert null_name.codes == ["BAD_USER_INPUT"] and "name" in null_name.errors[0]["message"]
    # Another team's project is as missing as a project that never existed.
    other = await make_member(engine)
    other_gql = GraphQLClient(gql.http, other.token)
    for response in (
        await other_gql(UPDATE_PROJECT, {"id": pid, "input": {"name": "stolen"}}),
        await other_gql("mutation ($id: ID!) { deleteProject(id: $id) }", {"id": pid}),
    ):
        assert response.codes == ["NOT_FOUND"]
        assert response.errors[0]["message"] == f"Project {pid} not found"
    # The same slug in another team is fine.
    assert (
        await other_gql(CREATE_PROJECT, {"input": {"name": "Site", "slug": "site"}})
    ).errors == []
    assert len(await audit_rows(engine, member.team_id)) == 1  # failures wrote nothing


async def test_workers(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> None:
    create = "mutation ($input: CreateWorkerInput!) { createWorker(input: $input) { id handle name type createdAt } }"
    update = "mutation ($id: ID!, $input: UpdateWorkerInput!) { updateWorker(id: $id, input: $input) { id handle name type } }"
    bot = (await gql(create, {"input": {"handle": "ci-bot", "name": "CI", "type": "AGENT"}})).data[
        "createWorker"
    ]
    assert bot["handle"] == "@ci-bot" and bot["type"] == "AGENT"
    assert (
        await gql(create, {"input": {"handle": "@ci-bot", "name": "Again", "type": "HUMAN"}})
    ).codes == ["CONFLICT"]
    assert (
        await gql(create, {"input": {"handle": "bad handle", "name": "x", "type": "HUMAN"}})
    ).codes == ["BAD_USER_INPUT"]
    assert (await gql(create, {"input": {"handle": "@x", "name": "x", "type": "ROBOT"}})).codes == [
        "BAD_USER_INPUT"
    ]
    renamed = (await gql(update, {"id": bot["id"], "input": {"name": "CI Bot"}})).data[
        "updateWorker"
    ]
    assert renamed == {"id": bot["id"], "handle": "@ci-bot", "name": "CI Bot", "type": "AGENT"}
    taken = await gql(update, {"id": bot["id"], "input": {"handle": member.handle}})
    assert taken.codes == ["CONFLICT"]
    assert (await gql(update, {"id": bot["id"], "input": {"type": None}})).codes == [
        "BAD_USER_INPUT"
    ]
    assert (await gql(update, {"id": "0", "input": {"name": "x"}})).codes == ["NOT_FOUND"]
    log = [
        (r["action"].name, r["entity_type"], r["entity_id"])
        for r in await audit_rows(engine, member.team_id)
    ]
    assert log == [("CREATE", "Worker", bot["id"]), ("UPDATE", "Worker", bot["id"])]


async def test_mutations_need_a_token(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    for token in (None, "tq_" + "n" * 43):
        response = await gql(
            CREATE_PROJECT, {"input": {"name": "Site", "slug": "site"}}, token=token
        )
        assert response.codes == ["UNAUTHENTICATED"]
    assert await count_rows(engine, PROJECT, member.team_id) == 0
