"""What the subscription tests share: the server's settings, the event selection, writes."""

from typing import Any

from tests.graphql_client import GraphQLClient

EVENTS = """
subscription($projectId: ID, $after: String) {
  taskEvents(projectId: $projectId, after: $after) {
    cursor action taskId changes occurredAt
    task { id title projectId }
    actor { handle }
    worker { handle }
  }
}
"""

FAST = {
    "events_poll_interval_seconds": 0.3,
    "ws_auth_recheck_seconds": 0.5,
    "ws_init_timeout_seconds": 1.0,
    "events_keepalive_seconds": 1.0,
}
# For tests where the database goes away: the listener's wake-ups only (no polling to hide
# a listener that did not come back), a quick keepalive, a short connect timeout.
LISTENER_ONLY = {
    **FAST,
    "events_poll_interval_seconds": 60.0,
    "events_keepalive_seconds": 0.5,
    "connect_timeout_seconds": 2,
}


async def create_task(gql: GraphQLClient, title: str, **fields: Any) -> str:
    response = await gql(
        "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
        {"input": {"title": title, **fields}},
    )
    return str(response.data["createTask"]["id"])


async def update_task(gql: GraphQLClient, task_id: str, **fields: Any) -> None:
    response = await gql(
        "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { id } }",
        {"id": task_id, "input": fields},
    )
    assert response.data


async def create_project(gql: GraphQLClient, slug: str) -> str:
    response = await gql(
        "mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }",
        {"input": {"name": slug.title(), "slug": slug}},
    )
    return str(response.data["createProject"]["id"])
