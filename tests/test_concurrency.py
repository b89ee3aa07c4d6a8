"""Concurrent requests whose sibling fields make several loaders dispatch in the same tick.

One AsyncSession must never be used by two tasks at once: the context serializes it.
"""

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.datasets import build_forest
from tests.factories import Member
from tests.graphql_client import GraphQLClient

SIBLINGS = """{
  a: tasks(first: 10, where: {parentId: {isNull: true}}) { totalCount nodes { id
    project { slug } parent { id } assignments { worker { handle } }
    subtasks(first: 3) { totalCount nodes { id ancestors { id } } } descendants { id } } }
  b: projects { nodes { slug stats { total } tasks(first: 2) { totalCount nodes { id } } } }
  c: workers { nodes { handle assignments { task { id } } tasks(first: 2) { nodes { id } } } }
  d: taskStats { total }
  me { handle }
}"""


async def test_twenty_concurrent_requests_with_sibling_loaders(
    engine: AsyncEngine, member: Member, http: httpx.AsyncClient
) -> None:
    await build_forest(engine, member, roots=10)
    gql = GraphQLClient(http, member.token)
    reference = await gql(SIBLINGS)
    assert not reference.errors, reference.errors
    responses = await asyncio.gather(*(gql(SIBLINGS) for _ in range(20)))
    for response in responses:
        assert response.status == 200
        assert not response.errors, response.errors
        assert response.data == reference.data


async def test_loaders_dispatching_in_one_tick_on_a_fresh_session(
    engine: AsyncEngine, member: Member
) -> None:
    """The first statements of a request may come from several loaders at once; without the
    session lock they would race to provision the session's connection."""
    from db.engine import create_session_factory
    from db.session import RequestSession
    from gql.loaders import Loaders

    forest = await build_forest(engine, member, roots=3)
    for _ in range(5):
        async with create_session_factory(engine)() as session:
            loaders = Loaders(RequestSession(session), member.team_id)
            results = await asyncio.gather(
                loaders.task_by_id.load(forest.root_ids[0]),
                loaders.project_by_id.load(forest.project_ids[0]),
                loaders.worker_by_id.load(member.worker_id),
                loaders.assignments_by_task.load(forest.root_ids[1]),
                loaders.ancestors.load(forest.children[forest.root_ids[0]][0]),
                loaders.descendants(None).load(forest.root_ids[2]),
                loaders.project_stats.load(forest.project_ids[1]),
            )
        assert results[0].id == forest.root_ids[0]
        assert results[1].id == forest.project_ids[0]
        assert results[2].id == member.worker_id
        assert len(results[3]) == 2
        assert [row.id for row in results[4]] == [forest.root_ids[0]]
        assert len(results[5]) == 6
