"""The LISTEN connection goes around a transaction-mode pooler, where LISTEN is deaf."""

from db.events.listener import listen_dsn


def test_neon_pooler_host_becomes_the_direct_host() -> None:
    dsn, args = listen_dsn(
        "postgresql://u:secret@ep-cool-123-pooler.eu-central-1.aws.neon.tech/app?sslmode=require"
    )
    assert dsn == "postgresql://u:secret@ep-cool-123.eu-central-1.aws.neon.tech/app"
    assert args == {"ssl": "require"}


def test_a_direct_url_stays_as_it_is() -> None:
    dsn, args = listen_dsn("postgres://postgres@127.0.0.1:5432/taskql?connect_timeout=3")
    assert dsn == "postgresql://postgres@127.0.0.1:5432/taskql"
    assert args == {"timeout": 3.0}
