"""Tasks through mutations: defaults, placement in trees, partial updates, deletes, assignments."""

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import Member, add_project, add_task, add_worker, make_member
from tests.graphql_client import GraphQLClient
from tests.mutation_helpers import (
    ASSIGN,
    CREATE_TASK,
    CREATE_TASKS,
    DELETE_TASK,
    TASK,
    UNASSIGN,
    UPDATE_TASK,
    audit_rows,
    count_rows,
    task_row,
)


async def test_create_with_defaults_and_normalization(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    ada = await add_worker(engine, member, handle="@ada")
    task = (
        await gql(
            CREATE_TASK,
            {
                "input": {
                    "title": "Ship it",
                    "dueDate": "2026-12-01T10:00:00+02:00",
                    "projectId": "0",
                    "assigneeIds": [str(ada), str(member.worker_id), str(ada)],
                }
            },
        )
    ).data["createTask"]
    assert (task["status"], task["priority"], task["progressPercent"]) == ("PENDING", "MEDIUM", 0)
    assert task["dueDate"] in ("2026-12-01T08:00:00+00:00", "2026-12-01T08:00:00Z")
    assert task["projectId"] is None and task["project"] is None
    assert sorted(a["worker"]["handle"] for a in task["assignments"]) == ["@ada", "@tester"]
    assert {a["role"] for a in task["assignments"]} == {"ASSIGNEE"}
    log = await audit_rows(engine, member.team_id)
    assert [(r["action"].name, r["entity_type"]) for r in log] == [
        ("CREATE", "Task"),
        ("ASSIGN", "TaskAssignment"),
        ("ASSIGN", "TaskAssignment"),
    ]
    assert log[0]["changes"]["title"] == [None, "Ship it"]
    assert log[0]["changes"]["dueDate"] == [None, "2026-12-01T08:00:00+00:00"]
    assert log[1]["entity_id"] == f"{task['id']}:{ada}"


async def test_subtasks_live_in_their_parents_project(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    web = await add_project(engine, member, slug="web")
    api = await add_project(engine, member, slug="api")
    root = (await gql(CREATE_TASK, {"input": {"title": "root", "projectId": str(web)}})).data[
        "createTask"
    ]
    child = (await gql(CREATE_TASK, {"input": {"title": "child", "parentId": root["id"]}})).data[
        "createTask"
    ]
    assert child["projectId"] == str(web) and child["parent"] == {"id": root["id"]}
    same = await gql(
        CREATE_TASK, {"input": {"title": "c2", "parentId": root["id"], "projectId": str(web)}}
    )
    assert same.errors == []
    wrong = await gql(
        CREATE_TASK, {"input": {"title": "c3", "parentId": root["id"], "projectId": str(api)}}
    )
    assert wrong.codes == ["BAD_USER_INPUT"] and "projectId" in wrong.errors[0]["message"]
    # A subtask cannot leave its parent's project on its own...
    moved = await gql(UPDATE_TASK, {"id": child["id"], "input": {"projectId": str(api)}})
    assert moved.codes == ["BAD_USER_INPUT"]
    # ...but moving the parent moves the whole subtree.
    grandchild = await add_task(
        engine, member, title="gc", parent_id=int(child["id"]), project_id=web
    )
    moved = await gql(UPDATE_TASK, {"id": root["id"], "input": {"projectId": str(api)}})
    assert moved.data["updateTask"]["projectId"] == str(api)
    for task_id in (int(child["id"]), grandchild):
        assert (await task_row(engine, task_id))["project_id"] == api  # type: ignore[index]
    # Re-parenting under a task of another project takes that project.
    other_root = await add_task(engine, member, title="other", project_id=web)
    regrouped = await gql(UPDATE_TASK, {"id": child["id"], "input": {"parentId": str(other_root)}})
    assert regrouped.data["updateTask"]["projectId"] == str(web)
    assert (await task_row(engine, grandchild))["project_id"] == web  # type: ignore[index]
    # Detaching: parentId 0 makes it top-level, in the project it had.
    top = (await gql(UPDATE_TASK, {"id": child["id"], "input": {"parentId": "0"}})).data[
        "updateTask"
    ]
    assert top["parentId"] is None and top["projectId"] == str(web)


async def test_no_cycles(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> None:
    a = await add_task(engine, member, title="a")
    b = await add_task(engine, member, title="b", parent_id=a)
    c = await add_task(engine, member, title="c", parent_id=b)
    for new_parent in (a, b, c):
        response = await gql(UPDATE_TASK, {"id": str(a), "input": {"parentId": str(new_parent)}})
        assert response.codes == ["BAD_USER_INPUT"], new_parent
    assert (await task_row(engine, a))["parent_id"] is None  # type: ignore[index]
    assert (await gql(UPDATE_TASK, {"id": str(c), "input": {"parentId": str(a)}})).errors == []


async def test_partial_updates(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> None:
    created = (
        await gql(
            CREATE_TASK,
            {
                "input": {
                    "title": "t",
                    "description": "keep?",
                    "dueDate": "2026-01-01T00:00:00Z",
                    "priority": "HIGH",
                }
            },
        )
    ).data["createTask"]
    tid = created["id"]
    after = (await gql(UPDATE_TASK, {"id": tid, "input": {"progressPercent": 40}})).data[
        "updateTask"
    ]
    assert (after["title"], after["description"], after["priority"], after["progressPercent"]) == (
        "t",
        "keep?",
        "HIGH",
        40,
    )
    cleared = (
        await gql(UPDATE_TASK, {"id": tid, "input": {"description": None, "dueDate": None}})
    ).data["updateTask"]
    assert cleared["description"] is None and cleared["dueDate"] is None and cleared["title"] == "t"
    for field in ("title", "status", "priority", "progressPercent"):
        response = await gql(UPDATE_TASK, {"id": tid, "input": {field: None}})
        assert response.codes == ["BAD_USER_INPUT"], field
        assert field in response.errors[0]["message"]
    for bad in (
        {"title": ""},
        {"title": "x" * 201},
        {"progressPercent": 101},
        {"progressPercent": -1},
    ):
        assert (await gql(UPDATE_TASK, {"id": tid, "input": bad})).codes == ["BAD_USER_INPUT"], bad
    assert (await gql(UPDATE_TASK, {"id": tid, "input": {"status": "DONE"}})).codes == [
        "BAD_USER_INPUT"
    ]
    unchanged = await gql(UPDATE_TASK, {"id": tid, "input": {"title": "t"}})
    assert unchanged.errors == []
    updates = [r for r in await audit_rows(engine, member.team_id) if r["action"].name == "UPDATE"]
    assert [u["changes"] for u in updates] == [
        {"progressPercent": [0, 40]},
        {"description": ["keep?", None], "dueDate": ["2026-01-01T00:00:00+00:00", None]},
    ]  # a no-op update records nothing


async def test_ids_of_other_teams_are_not_found(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    other = await make_member(engine)
    theirs = await add_task(engine, other, title="theirs")
    their_project = await add_project(engine, other, slug="theirs")
    mine = await add_task(engine, member, title="mine")
    cases = [
        (UPDATE_TASK, {"id": str(theirs), "input": {"title": "x"}}),
        (DELETE_TASK, {"id": str(theirs)}),
        (CREATE_TASK, {"input": {"title": "x", "parentId": str(theirs)}}),
        (CREATE_TASK, {"input": {"title": "x", "projectId": str(their_project)}}),
        (CREATE_TASK, {"input": {"title": "x", "assigneeIds": [str(other.worker_id)]}}),
        (UPDATE_TASK, {"id": str(mine), "input": {"parentId": str(theirs)}}),
        (UPDATE_TASK, {"id": str(mine), "input": {"projectId": str(their_project)}}),
        (ASSIGN, {"t": str(theirs), "w": str(member.worker_id)}),
        (ASSIGN, {"t": str(mine), "w": str(other.worker_id)}),
        (UNASSIGN, {"t": str(mine), "w": str(member.worker_id)}),
    ]
    for document, variables in cases:
        assert (await gql(document, variables)).codes == ["NOT_FOUND"], variables
    assert (await task_row(engine, theirs))["title"] == "theirs"  # type: ignore[index]
    assert await count_rows(engine, TASK, member.team_id) == 1
    assert await audit_rows(engine, member.team_id) == []
    malformed = await gql(UPDATE_TASK, {"id": "abc", "input": {"title": "x"}})
    assert malformed.codes == ["BAD_USER_INPUT"]


async def test_delete_task_takes_its_subtree(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    ada = await add_worker(engine, member, handle="@ada")
    root = await add_task(engine, member, title="root")
    kids = [await add_task(engine, member, title=f"k{i}", parent_id=root) for i in range(2)]
    await add_task(engine, member, title="gk", parent_id=kids[0])
    keep = await add_task(engine, member, title="keep")
    await gql(ASSIGN, {"t": str(kids[1]), "w": str(ada)})
    assert (await gql(DELETE_TASK, {"id": str(root)})).data == {"deleteTask": str(root)}
    assert await count_rows(engine, TASK, member.team_id) == 1
    assert await task_row(engine, keep) is not None
    deletes = [r for r in await audit_rows(engine, member.team_id) if r["action"].name == "DELETE"]
    assert len(deletes) == 4 and deletes[0]["entity_id"] == str(root)
    assert deletes[0]["changes"]["title"] == ["root", None]
    assert (await gql(DELETE_TASK, {"id": str(root)})).codes == ["NOT_FOUND"]
    assert (
        await gql('{ workers(where: {handle: {eq: "@ada"}}) { nodes { assignments { role } } } }')
    ).data["workers"]["nodes"][0]["assignments"] == []


async def test_assign_and_unassign(engine: AsyncEngine, member: Member, gql: GraphQLClient) -> None:
    ada = await add_worker(engine, member, handle="@ada")
    task = await add_task(engine, member, title="t")
    link = (await gql(ASSIGN, {"t": str(task), "w": str(ada), "role": "REVIEWER"})).data[
        "assignWorker"
    ]
    assert (
        link["role"] == "REVIEWER"
        and link["worker"]["handle"] == "@ada"
        and link["task"] == {"id": str(task)}
    )
    again = await gql(ASSIGN, {"t": str(task), "w": str(ada)})
    assert again.codes == ["CONFLICT"]
    left = (await gql(UNASSIGN, {"t": str(task), "w": str(ada)})).data["unassignWorker"]
    assert left == {"id": str(task), "workers": []}
    assert (await gql(UNASSIGN, {"t": str(task), "w": str(ada)})).codes == ["NOT_FOUND"]
    log = [
        (r["action"].name, r["entity_id"], r["changes"])
        for r in await audit_rows(engine, member.team_id)
    ]
    assert log == [
        (
            "ASSIGN",
            f"{task}:{ada}",
            {"taskId": [None, str(task)], "workerId": [None, str(ada)], "role": [None, "REVIEWER"]},
        ),
        (
            "UNASSIGN",
            f"{task}:{ada}",
            {"taskId": [str(task), None], "workerId": [str(ada), None], "role": ["REVIEWER", None]},
        ),
    ]


async def test_create_tasks_is_all_or_nothing(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    ok = await gql(CREATE_TASKS, {"input": [{"title": "one"}, {"title": "two", "priority": "LOW"}]})
    assert [t["title"] for t in ok.data["createTasks"]] == ["one", "two"]
    for bad_list, code in (
        ([{"title": "three"}, {"title": ""}], "BAD_USER_INPUT"),
        ([{"title": "three"}, {"title": "four", "parentId": "987654"}], "NOT_FOUND"),
        ([{"title": "three"}, {"title": "four", "progressPercent": 300}], "BAD_USER_INPUT"),
    ):
        response = await gql(CREATE_TASKS, {"input": bad_list})
        assert response.codes == [code]
        assert response.errors[0]["message"].startswith("input[1]: ")
        assert response.body["data"] is None
    assert await count_rows(engine, TASK, member.team_id) == 2
    assert len(await audit_rows(engine, member.team_id)) == 2


async def test_an_operation_commits_all_its_mutations_or_none(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    two = """mutation {
      a: createTask(input: {title: "first"}) { id }
      b: createTask(input: {title: "second", parentId: "987654"}) { id }
    }"""
    response = await gql(two)
    assert response.codes == ["NOT_FOUND"]
    assert await count_rows(engine, TASK, member.team_id) == 0
    assert await audit_rows(engine, member.team_id) == []


async def test_mutation_responses_read_their_relations_before_the_commit(
    engine: AsyncEngine, member: Member, gql: GraphQLClient
) -> None:
    """Nested fields of a mutation's result load inside its transaction; nothing lazy
    reaches an ORM object after the commit (the MissingGreenlet trap)."""
    web = await add_project(engine, member, slug="web")
    root = (
        await gql(
            CREATE_TASK,
            {
                "input": {
                    "title": "r",
                    "projectId": str(web),
                    "assigneeIds": [str(member.worker_id)],
                }
            },
        )
    ).data["createTask"]
    nested = """mutation ($id: ID!) { updateTask(id: $id, input: {title: "renamed"}) {
        title project { slug tasks { totalCount } stats { total } } assignments { worker { handle } }
        subtasks { totalCount } ancestors { id } descendants { id } workers { handle } } }"""
    data = (await gql(nested, {"id": root["id"]})).data["updateTask"]
    assert data["title"] == "renamed" and data["project"]["slug"] == "web"
    assert data["project"]["stats"]["total"] == 1
    assert data["workers"] == [{"handle": member.handle}]
