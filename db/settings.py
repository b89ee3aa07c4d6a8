"""Every setting of the service, read once from the environment and `.env`."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///taskql.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Left unset, taskql runs on an embedded SQLite file in the working directory.
    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")

    pool_size: int = Field(default=10, ge=1, validation_alias="TASKQL_POOL_SIZE")
    max_overflow: int = Field(default=10, ge=0, validation_alias="TASKQL_MAX_OVERFLOW")
    pool_pre_ping: bool = Field(default=True, validation_alias="TASKQL_POOL_PRE_PING")
    pool_recycle_seconds: int = Field(default=1800, validation_alias="TASKQL_POOL_RECYCLE")
    pool_timeout_seconds: float = Field(default=10, gt=0, validation_alias="TASKQL_POOL_TIMEOUT")
    connect_timeout_seconds: float = Field(
        default=5, gt=0, validation_alias="TASKQL_CONNECT_TIMEOUT"
    )
    statement_timeout_ms: int = Field(
        default=10_000, ge=0, validation_alias="TASKQL_STATEMENT_TIMEOUT_MS"
    )
    # PostgreSQL's random_page_cost for taskql's own sessions (db/engine.py); 0: the server's.
    random_page_cost: float = Field(default=1.1, ge=0, validation_alias="TASKQL_RANDOM_PAGE_COST")
    # Transaction-mode poolers (PgBouncer, Neon "-pooler" hosts) cannot keep
    # prepared statements; hosts with "-pooler" in their name switch this on by themselves.
    disable_prepared_statements: bool = Field(
        default=False, validation_alias="TASKQL_DISABLE_PREPARED_STATEMENTS"
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5_000, ge=0, validation_alias="TASKQL_SQLITE_BUSY_TIMEOUT_MS"
    )
    # Writers of one process queue for SQLite's write lock in the process; this long at most.
    sqlite_write_queue_timeout_seconds: float = Field(
        default=30, gt=0, validation_alias="TASKQL_SQLITE_WRITE_QUEUE_TIMEOUT"
    )

    # After SIGTERM, in-flight requests get this long to finish before they are cut; keep
    # it below the orchestrator's own kill timeout (Kubernetes: 30 s by default).
    shutdown_grace_seconds: int = Field(
        default=25, ge=1, validation_alias="TASKQL_SHUTDOWN_GRACE_SECONDS"
    )

    max_page_size: int = Field(default=100, ge=1, validation_alias="TASKQL_MAX_PAGE_SIZE")
    max_depth: int = Field(default=12, ge=1, validation_alias="TASKQL_MAX_DEPTH")
    # The most rows one operation may ask for through its connections (gql/cost.py).
    max_rows: int = Field(default=50_000, ge=1, validation_alias="TASKQL_MAX_ROWS")
    max_aliases: int = Field(default=50, ge=1, validation_alias="TASKQL_MAX_ALIASES")
    # Parsing costs CPU per token before any limit above applies; a body may hold 300,000.
    max_tokens: int = Field(default=10_000, ge=1, validation_alias="TASKQL_MAX_TOKENS")
    max_body_bytes: int = Field(default=1_048_576, ge=1, validation_alias="TASKQL_MAX_BODY_BYTES")
    introspection: bool = Field(default=True, validation_alias="TASKQL_INTROSPECTION")
    # Read operations completed level by level (gql/planned.py); off: field by field.
    planner: bool = Field(default=True, validation_alias="TASKQL_PLANNER")
    # Repeated reads answered from the statements their first answer took (gql/known_reads.py):
    # how many (request body, caller) entries each process keeps; 0 switches it off.
    known_reads: int = Field(default=1024, ge=0, validation_alias="TASKQL_KNOWN_READS")
    # last_used_at is written at most this often per token, so reads stay reads.
    token_touch_interval_seconds: int = Field(
        default=60, ge=0, validation_alias="TASKQL_TOKEN_TOUCH_INTERVAL"
    )
    # A token found live is trusted this long without a lookup; a revocation made by
    # another process takes effect within it (0: look every token up on every request).
    token_cache_seconds: float = Field(
        default=1.0, ge=0, le=60, validation_alias="TASKQL_TOKEN_CACHE_SECONDS"
    )

    # Observability (docs/observability.md).
    metrics: bool = Field(default=True, validation_alias="TASKQL_METRICS")
    # Unset: /metrics is a route of the app itself. Set: served on this port instead.
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, validation_alias="TASKQL_METRICS_PORT"
    )
    metrics_host: str | None = Field(default=None, validation_alias="TASKQL_METRICS_HOST")
    # Operation names are chosen by clients: beyond this many, names share one label value.
    metrics_max_operation_names: int = Field(
        default=100, ge=0, validation_alias="TASKQL_METRICS_MAX_OPERATION_NAMES"
    )
    tracing: Literal["off", "otlp", "console"] = Field(
        default="off", validation_alias="TASKQL_TRACING"
    )
    tracing_resolvers: bool = Field(default=False, validation_alias="TASKQL_TRACING_RESOLVERS")
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias="TASKQL_LOG_FORMAT"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="TASKQL_LOG_LEVEL"
    )

    # Task events (docs/subscriptions.md). Each process reads its teams' new events when a
    # commit wakes it (in this process; on PostgreSQL also NOTIFY from the others), and at
    # least this often: the only wake-up between processes on SQLite.
    events_poll_interval_seconds: float = Field(
        default=2.0, gt=0, validation_alias="TASKQL_EVENTS_POLL_INTERVAL"
    )
    # Events waiting for one subscriber; one that falls further behind is ended with its cursor.
    events_queue_size: int = Field(default=500, ge=1, validation_alias="TASKQL_EVENTS_QUEUE_SIZE")
    # The LISTEN connection's URL: direct, never through a transaction-mode pooler.
    # Unset: DATABASE_URL with "-pooler" taken out of the host name.
    events_listen_url: str | None = Field(default=None, validation_alias="TASKQL_EVENTS_LISTEN_URL")
    events_keepalive_seconds: float = Field(
        default=15, gt=0, validation_alias="TASKQL_EVENTS_KEEPALIVE"
    )
    ws_init_timeout_seconds: float = Field(
        default=10, gt=0, validation_alias="TASKQL_WS_INIT_TIMEOUT"
    )
    ws_max_subscriptions_per_connection: int = Field(
        default=20, ge=1, validation_alias="TASKQL_WS_MAX_SUBSCRIPTIONS_PER_CONNECTION"
    )
    ws_max_subscriptions: int = Field(
        default=2_000, ge=1, validation_alias="TASKQL_WS_MAX_SUBSCRIPTIONS"
    )
    # How often a socket's token is checked again: a revoked token ends its subscriptions.
    ws_auth_recheck_seconds: float = Field(
        default=30, gt=0, validation_alias="TASKQL_WS_AUTH_RECHECK"
    )
    # Origins (scheme://host[:port]) whose browser pages may open a socket; "*" for any.
    # Same-origin pages and non-browser clients are always allowed.
    allowed_origins: list[str] = Field(default=[], validation_alias="TASKQL_ALLOWED_ORIGINS")


@lru_cache
def get_settings() -> Settings:
    return Settings()
