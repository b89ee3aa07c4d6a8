"""How the single-object root fields find their row: one filter tree, used by the resolver
and by the planned path alike."""

from typing import Any

from db.errors import Invalid
from db.models.worker import normalize_handle
from gql.ids import parse_id


def project_lookup(id: str | None, slug: str | None) -> dict[str, Any]:
    if id is None and slug is None:
        raise Invalid("pass id or slug", field="id")
    tree: dict[str, Any] = {}
    if id is not None:
        tree["id"] = {"eq": parse_id(id)}
    if slug is not None:
        tree["slug"] = {"eq": slug}
    return tree


def worker_lookup(id: str | None, handle: str | None) -> dict[str, Any]:
    if id is None and handle is None:
        raise Invalid("pass id or handle", field="id")
    tree: dict[str, Any] = {}
    if id is not None:
        tree["id"] = {"eq": parse_id(id)}
    if handle is not None:
        tree["handle"] = {"eq": normalize_handle(handle)}
    return tree
