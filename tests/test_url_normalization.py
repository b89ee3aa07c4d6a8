"""DATABASE_URL as users paste it, normalized for the async drivers."""

import pytest

from db.engine import DatabaseUrlError, normalize_url

CASES = [
    # (pasted, expected URL, expected connect_args)
    ("postgres://u:p@db.example.com/app", "postgresql+asyncpg://u:p@db.example.com/app", {}),
    ("postgresql://u@localhost:5433/app", "postgresql+asyncpg://u@localhost:5433/app", {}),
    ("postgresql+asyncpg://u@h/app", "postgresql+asyncpg://u@h/app", {}),
    ("postgresql+psycopg2://u@h/app", "postgresql+asyncpg://u@h/app", {}),
    (
        "postgresql://u:p@h/app?sslmode=require",
        "postgresql+asyncpg://u:p@h/app",
        {"ssl": "require"},
    ),
    (
        "postgresql://u:p@h/app?sslmode=verify-full&connect_timeout=7&application_name=api",
        "postgresql+asyncpg://u:p@h/app",
        {"ssl": "verify-full", "timeout": 7.0, "server_settings": {"application_name": "api"}},
    ),
    (
        # A Neon pooled connection string, as the console shows it.
        "postgresql://neondb_owner:pw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
        "/neondb?sslmode=require&channel_binding=require",
        "postgresql+asyncpg://neondb_owner:pw@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech"
        "/neondb?prepared_statement_cache_size=0",
        {"ssl": "require", "statement_cache_size": 0},
    ),
    (
        "postgresql://neondb_owner:pw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb"
        "?sslmode=require",
        "postgresql+asyncpg://neondb_owner:pw@ep-cool-darkness-123456.us-east-2.aws.neon.tech/neondb",
        {"ssl": "require"},
    ),
    ("sqlite:///taskql.db", "sqlite+aiosqlite:///taskql.db", {}),
    ("sqlite+aiosqlite:////var/lib/taskql.db", "sqlite+aiosqlite:////var/lib/taskql.db", {}),
    ("  postgres://u@h/app  ", "postgresql+asyncpg://u@h/app", {}),
]


@pytest.mark.parametrize(("pasted", "url", "connect_args"), CASES)
def test_normalizes(pasted: str, url: str, connect_args: dict[str, object]) -> None:
    normalized = normalize_url(pasted)
    assert normalized.url.render_as_string(hide_password=False) == url
    assert normalized.connect_args == connect_args


def test_prepared_statements_can_be_switched_off_for_any_pooler() -> None:
    normalized = normalize_url(
        "postgresql://u@pgbouncer:6432/app", disable_prepared_statements=True
    )
    assert normalized.connect_args == {"statement_cache_size": 0}
    assert normalized.url.query == {"prepared_statement_cache_size": "0"}


@pytest.mark.parametrize(
    "bad", ["", "not a url", "mysql://u@h/db", "postgresql://u@h/db?sslmode=sometimes"]
)
def test_rejects_unusable_urls(bad: str) -> None:
    with pytest.raises(DatabaseUrlError):
        normalize_url(bad)
