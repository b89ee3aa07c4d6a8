"""A GraphQL client that speaks real HTTP to the app, with a real token."""

import json
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class Response:
    status: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        assert not self.body.get("errors"), self.body.get("errors")
        return self.body["data"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code") for error in self.errors]


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http = http
        self.token = token

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = ...,  # type: ignore[assignment]
    ) -> Response:
        token = self.token if token is ... else token
        headers = {"content-type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        # ASCII JSON, as JSON.stringify and json.dumps send it: a lone surrogate
        # ("\ud800") travels as an escape, where httpx's own encoding would refuse it.
        content = json.dumps(payload)
        response = await self.http.post("/graphql", content=content, headers=headers)
        return Response(response.status_code, response.json())
