"""Cursor connections: edges, nodes, pageInfo and a totalCount that costs nothing unless asked."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from db.services.pagination import Page

NodeT = TypeVar("NodeT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


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
        edges=[Edge(cursor=c, node=n) for c, n in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=_page_info(page.cursors, page),
        count=count,
    )


def _page_info(cursors: Sequence[str], page: Page) -> PageInfo:
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )
