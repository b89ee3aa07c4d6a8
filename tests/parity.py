"""Every read the suite sends is answered by both paths, and the answers must be identical.

The tests' HTTP client talks to the app as configured (the planned path on), through a
transport that sends each read operation a second time to an app with the planner off,
on an engine of its own (so statement counts and budgets see only the first request),
and fails the test unless status and body are byte-identical: content, key order,
errors and their codes alike. Mutations and subscriptions go to the first app only.
"""

import json
from typing import Any

import httpx
from graphql import GraphQLSyntaxError, OperationDefinitionNode, OperationType, parse


class ParityTransport(httpx.AsyncBaseTransport):
    def __init__(self, app: Any, reference_app: Any) -> None:
        self._app = httpx.ASGITransport(app=app)
        self._reference = httpx.ASGITransport(app=reference_app)
        self.compared = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self._app.handle_async_request(request)
        if request.method != "POST" or not _is_read(body):
            return response
        content = await response.aread()
        again = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        reference = await self._reference.handle_async_request(again)
        expected = await reference.aread()
        self.compared += 1
        assert (response.status_code, content) == (reference.status_code, expected), (
            "the planned and the resolver path answer differently:\n"
            f"planned:  {response.status_code} {content.decode(errors='replace')}\n"
            f"resolver: {reference.status_code} {expected.decode(errors='replace')}\n"
            f"request:  {body.decode(errors='replace')}"
        )
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )


def _is_read(body: bytes) -> bool:
    """Whether the request is a query operation (or no valid operation at all: then both
    paths must fail alike, and nothing was written)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        return True
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return True
    try:
        document = parse(payload["query"])
    except GraphQLSyntaxError:
        return True
    name = payload.get("operationName")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [op for op in operations if name is None or (op.name and op.name.value == name)]
    return all(op.operation == OperationType.QUERY for op in chosen)
