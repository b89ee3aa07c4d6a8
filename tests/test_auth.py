"""Token auth over HTTP: who may ask, and what an anonymous client may still see."""

import asyncio
from datetime import timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import create_session_factory
from db.models import ApiToken, utcnow
from db.services import tokens
from db.statements import StatementCounter
from tests.factories import Member
from tests.graphql_client import GraphQLClient

ME = "{ me { id handle name type createdAt } team { id slug name } }"


async def test_me_and_team_with_a_token(gql: GraphQLClient, member: Member) -> None:
    data = (await gql(ME)).data
    assert data["me"]["id"] == str(member.worker_id)
    assert data["me"]["handle"] == member.handle
    assert data["me"]["type"] == "HUMAN"
    assert data["me"]["createdAt"].endswith("+00:00")
    assert data["team"] == {
        "id": str(member.team_id),
        "slug": member.team_slug,
        "name": f"Team {member.team_slug}",
    }


async def test_no_token_is_unauthenticated(gql: GraphQLClient) -> None:
    response = await gql(ME, token=None)
    assert response.status == 200
    assert response.body["data"] is None
    assert set(response.codes) == {"UNAUTHENTICATED"}


async def test_unknown_token_is_unauthenticated(gql: GraphQLClient) -> None:
    for bogus in ("tq_" + "x" * 43, "not-even-a-token", "tq_"):
        response = await gql(ME, token=bogus)
        assert response.body["data"] is None
        assert response.codes and set(response.codes) == {"UNAUTHENTICATED"}


async def test_other_authorization_schemes_are_unauthenticated(
    http: httpx.AsyncClient, member: Member
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ me { id } }"},
        headers={"Authorization": f"Basic {member.token}"},
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoked_token_is_unauthenticated(
    gql: GraphQLClient, member: Member, engine: AsyncEngine
) -> None:
    assert (await gql("{ me { id } }")).data["me"]["id"] == str(member.worker_id)
    async with create_session_factory(engine)() as session, session.begin():
        await tokens.revoke(session, member.token_id)
    assert (await gql("{ me { id } }")).codes == ["UNAUTHENTICATED"]


async def test_tokens_are_stored_only_as_hashes_and_record_last_use(
    gql: GraphQLClient, member: Member, engine: AsyncEngine
) -> None:
    await gql("{ me { id } }")
    async with create_session_factory(engine)() as session:
        row = (
            await session.execute(select(ApiToken).where(ApiToken.id == member.token_id))
        ).scalar_one()
    assert row.token_hash == tokens.hash_token(member.token)
    stored = " ".join(str(value) for value in row.model_dump().values())
    assert (
        member.token not in stored and member.token[3:15] not in stored
    )  # no secret, whole or part
    assert row.last_used_at is not None


async def test_last_used_is_written_at_most_once_per_interval(
    member: Member, engine: AsyncEngine
) -> None:
    hour = timedelta(hours=1)
    async with create_session_factory(engine)() as session, session.begin():
        found = await tokens.authenticate(session, member.token, touch_interval=hour)
        assert found is not None
        principal, stale = found
        assert stale  # never used yet
        await tokens.touch(session, principal.token_id)
    async with create_session_factory(engine)() as session, session.begin():
        found = await tokens.authenticate(session, member.token, touch_interval=hour)
        assert found is not None and found[1] is False
        assert (await tokens.authenticate(session, member.token, touch_interval=timedelta(0)))[1]  # type: ignore[index]


async def test_introspection_works_without_a_token(gql: GraphQLClient) -> None:
    response = await gql("{ __schema { queryType { name } types { name } } }", token=None)
    names = {t["name"] for t in response.data["__schema"]["types"]}
    assert {"Worker", "Team", "Query"} <= names


async def test_a_token_sees_only_its_own_team(
    gql: GraphQLClient, member: Member, engine: AsyncEngine
) -> None:
    from tests.factories import make_member

    other = await make_member(engine, handle="@other")
    mine = (await gql(ME)).data
    theirs = (await gql(ME, token=other.token)).data
    assert mine["team"]["id"] != theirs["team"]["id"]
    assert theirs["me"]["handle"] == "@other"


async def test_a_token_found_live_is_not_looked_up_again_for_a_second(
    gql: GraphQLClient, member: Member, engine: AsyncEngine, statements: StatementCounter
) -> None:
    assert (await gql("{ me { id } }")).data  # looked up, and last_used_at written
    statements.reset()
    assert (await gql("{ me { id } }")).data
    assert not [s for s in statements.statements if "api_token" in s], statements.statements
    # Revoked by another process (a plain UPDATE, no in-process notice): refused within 1 s.
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(ApiToken).where(ApiToken.id == member.token_id).values(revoked_at=utcnow())
        )
    await asyncio.sleep(1.0)
    assert (await gql("{ me { id } }")).codes == ["UNAUTHENTICATED"]
