"""schema.graphql at the repo root is the SDL of the running schema."""

from pathlib import Path

from db.settings import Settings
from gql.schema import build_schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_graphql_is_current() -> None:
    exported = build_schema(Settings()).as_str() + "\n"
    assert SCHEMA_FILE.read_text(encoding="utf-8") == exported, (
        "schema.graphql is stale: run `taskql export-schema -o schema.graphql`"
    )
