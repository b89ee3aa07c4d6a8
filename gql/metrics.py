"""Prometheus metrics: the families, the calls that record into them, and /metrics.

Every family is defined here, once. Requests are recorded by the ASGI middleware
(gql/observe.py) from the request's record; subscriptions call `subscription_opened`
/ `subscription_closed` and `observe_delivery_lag`. Under `taskql serve --workers N`
prometheus_client runs in multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set up by
serve): each worker writes its samples to files there and a scrape of any worker sums
them all.
"""

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from db.pool_stats import PoolStats, pool_stats

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Label values that no GraphQL name can take, so no client can collide with them.
ANONYMOUS = "(anonymous)"
OTHER = "(other)"
NONE = "(none)"
INVALID = "invalid"  # operation_type of a request that carried no valid operation
MAX_NAME_LENGTH = 100

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STATEMENT_BUCKETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

OPERATIONS = Counter(
    "taskql_graphql_operations",
    "GraphQL requests, by operation type and (bounded) operation name",
    ["operation_type", "operation_name"],
)
DURATION = Histogram(
    "taskql_graphql_duration_seconds",
    "Wall time of a GraphQL request, from its first byte in to its last byte out",
    ["operation_type", "operation_name"],
    buckets=_DURATION_BUCKETS,
)
ERRORS = Counter(
    "taskql_graphql_errors",
    "Errors in GraphQL responses, by extensions.code",
    ["operation_type", "code"],
)
STATEMENTS = Histogram(
    "taskql_graphql_sql_statements",
    "SQL statements one GraphQL request sent (transaction control not counted)",
    ["operation_type"],
    buckets=_STATEMENT_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "taskql_http_requests",
    "HTTP requests by route and status (including those refused before GraphQL ran)",
    ["route", "status"],
)
SUBSCRIPTIONS_OPEN = Gauge(
    "taskql_subscriptions_open",
    "Subscriptions open now",
    multiprocess_mode="livesum",
)
DELIVERY_LAG = Histogram(
    "taskql_subscription_delivery_lag_seconds",
    "Time from a change's commit to the delivery of its event to a subscriber",
    buckets=_LAG_BUCKETS,
)
KNOWN_READS = Counter(
    "taskql_known_reads",
    "Repeated reads (gql/known_reads.py): answered from a kept entry, entries kept, and "
    "known reads handed to the full path (a failure, or a null for a non-null root)",
    ["outcome"],
)

# Pool numbers, per process; summed over the live workers under --workers.
POOL_SIZE = Gauge("taskql_db_pool_size", "Connections the pool keeps", multiprocess_mode="livesum")
POOL_CONNECTIONS = Gauge(
    "taskql_db_pool_connections", "Connections open, idle or in use", multiprocess_mode="livesum"
)
POOL_CHECKED_OUT = Gauge(
    "taskql_db_pool_checked_out", "Connections in use by requests", multiprocess_mode="livesum"
)
POOL_OVERFLOW = Gauge(
    "taskql_db_pool_overflow", "Connections open beyond the pool size", multiprocess_mode="livesum"
)
POOL_WAITING = Gauge(
    "taskql_db_pool_waiting",
    "Checkouts waiting for a free connection now",
    multiprocess_mode="livesum",
)
POOL_WAITS = Counter("taskql_db_pool_waits", "Checkouts that had to wait for a connection")
POOL_WAIT_SECONDS = Counter(
    "taskql_db_pool_wait_seconds", "Time checkouts spent waiting for a connection"
)
POOL_TIMEOUTS = Counter(
    "taskql_db_pool_timeouts", "Checkouts that gave up waiting (TASKQL_POOL_TIMEOUT)"
)


def is_multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR_ENV))


# -- what requests and subscriptions record -------------------------------------


class OperationNames:
    """Operation names as label values: the first `limit` distinct names of valid
    operations keep their own series, later ones share OTHER (per process)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self._seen:
            return name
        if len(self._seen) >= self._limit or len(name) > MAX_NAME_LENGTH:
            return OTHER
        self._seen.add(name)
        return name


@dataclass(frozen=True)
class OperationSample:
    operation_type: str | None  # None: no valid operation
    operation_name: str | None
    error_codes: list[str] = field(default_factory=list)
    statements: int = 0
    seconds: float = 0.0


# Labelled children by (family, label values): `labels()` takes a lock and builds a key on
# every call, a few microseconds each, several times per request. The label values are
# bounded (operation names by OperationNames, codes, routes and statuses by the app).
_children: dict[tuple[Any, ...], Any] = {}


def _child(family: Any, *values: str) -> Any:
    key = (family, *values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = family.labels(*values)
    return child


def observe_operation(sample: OperationSample, names: OperationNames) -> None:
    operation_type = sample.operation_type or INVALID
    name = names.label(sample.operation_name) if sample.operation_type else NONE
    _child(OPERATIONS, operation_type, name).inc()
    _child(DURATION, operation_type, name).observe(sample.seconds)
    _child(STATEMENTS, operation_type).observe(sample.statements)
    for code in sample.error_codes:
        _child(ERRORS, operation_type, code).inc()


def observe_http(route: str, status: int) -> None:
    _child(HTTP_REQUESTS, route, str(status)).inc()


def subscription_opened() -> None:
    SUBSCRIPTIONS_OPEN.inc()


def subscription_closed() -> None:
    SUBSCRIPTIONS_OPEN.dec()


def observe_delivery_lag(seconds: float) -> None:
    """Call once per event delivered: now minus the commit time of its change."""
    DELIVERY_LAG.observe(max(seconds, 0.0))


# -- pool numbers ---------------------------------------------------------------


class PoolPublisher:
    """Copies an engine's pool numbers into the pool families.

    Refreshed after checkouts and checkins, the moments the numbers change (at most every
    PUBLISH_DELAY seconds: a busy process checks connections in and out thousands of times
    a second, and copying every number each time cost ~3% of a short request), and when
    the app answers a scrape itself. Under --workers a scrape reaches one worker only and
    sums the live workers' latest values; on TASKQL_METRICS_PORT the scrape is answered by
    another thread or process: there the numbers are at most PUBLISH_DELAY old.
    """

    PUBLISH_DELAY = 0.05

    _EVENTS = ("checkout", "checkin")

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._counted = PoolStats(0, 0, 0, 0, 0, 0, 0.0, 0)
        self._listening = False
        self._scheduled: asyncio.TimerHandle | None = None

    def start(self) -> None:
        # Totals from before this app (tests share engines) are not this app's.
        self._counted = pool_stats(self._engine) or self._counted
        self.publish()
        for name in self._EVENTS:
            event.listen(self._engine.sync_engine, name, self._on_pool_event)
        self._listening = True

    def stop(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._listening:
            for name in self._EVENTS:
                event.remove(self._engine.sync_engine, name, self._on_pool_event)
            self._listening = False

    def _on_pool_event(self, *_args: object) -> None:
        if self._scheduled is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the app's event loop: nothing to batch with
            self.publish()
            return
        self._scheduled = loop.call_later(self.PUBLISH_DELAY, self._publish_scheduled)

    def _publish_scheduled(self) -> None:
        self._scheduled = None
        if self._listening:
            self.publish()

    def publish(self) -> None:
        stats = pool_stats(self._engine)
        if stats is None:
            return
        POOL_SIZE.set(stats.size)
        POOL_CONNECTIONS.set(stats.connections)
        POOL_CHECKED_OUT.set(stats.checked_out)
        POOL_OVERFLOW.set(stats.overflow)
        POOL_WAITING.set(stats.waiting)
        # The pool keeps running totals; a counter is only ever increased.
        counted = self._counted
        if stats.waits > counted.waits:
            POOL_WAITS.inc(stats.waits - counted.waits)
        if stats.wait_seconds > counted.wait_seconds:
            POOL_WAIT_SECONDS.inc(stats.wait_seconds - counted.wait_seconds)
        if stats.timeouts > counted.timeouts:
            POOL_TIMEOUTS.inc(stats.timeouts - counted.timeouts)
        self._counted = stats


# -- exposition -----------------------------------------------------------------


def scrape_registry() -> CollectorRegistry:
    """The registry a scrape reads: this process's, or every worker's files."""
    if not is_multiprocess():
        return REGISTRY
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)
    return registry


def exposition(before_scrape: Callable[[], None] | None = None) -> tuple[bytes, str]:
    """The text format body and its content type."""
    if before_scrape is not None:
        before_scrape()
    return generate_latest(scrape_registry()), CONTENT_TYPE_LATEST


def forget_this_process() -> None:
    """Drop this worker's live gauges (open subscriptions, pool) when it stops."""
    if is_multiprocess():
        prometheus_multiprocess.mark_process_dead(os.getpid())
