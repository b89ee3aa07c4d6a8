"""Cursor connections: edges, nodes, pageInfo and a totalCount that costs nothing unless asked."""

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import strawberry

from db.services.pagination import Page

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    page: strawberry.Private[Page]

    @strawberry.field
    def start_cursor(self) -> str | None:
        return self.page.cursor(0) if self.page.rows else None

    @strawberry.field
    def end_cursor(self) -> str | None:
        return self.page.cursor(-1) if self.page.rows else None


@strawberry.type
class Edge(Generic[NodeT]):
    node: NodeT
    page: strawberry.Private[Page]
    index: strawberry.Private[int]

    @strawberry.field
    def cursor(self) -> str:
        return self.page.cursor(self.index)


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    nodes: list[NodeT]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Rows matching the filter across all pages.")
    async def total_count(self) -> int:
        return await self.count()


def connection(
    page: Page, to_node: Callable[[Any], NodeT], count: Callable[[], Awaitable[int]]
) -> Connection[NodeT]:
    nodes = [to_node(row) for row in page.rows]
    return Connection(
        edges=[Edge(node=node, page=page, index=i) for i, node in enumerate(nodes)],
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=page.has_next, has_previous_page=page.has_previous, page=page
        ),
        count=count,
    )
