"""The ASGI middleware that observes every HTTP request: its id, status and duration,
the GraphQL operation it carried, then one log line and its metrics.

Outermost of the app's middleware, so requests refused before GraphQL runs (a body
too large) are seen too.
"""

import random
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.statements import StatementTally, tallying
from gql import metrics
from gql.request_log import RequestLine, log_request
from gql.request_record import RequestRecord, close_record, open_record

REQUEST_ID_HEADER = b"x-request-id"
# A client's id is kept when it is short and plain enough to log and echo safely.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@+=/-]{1,128}")
OTHER_ROUTE = "(other)"


@dataclass(frozen=True)
class ObserverOptions:
    graphql_path: str
    routes: Collection[str]  # paths that keep their own `route` label
    route_prefixes: Collection[str] = ()  # mounts: the prefix is the label
    metrics: bool = True
    max_operation_names: int = 100
    trace_id: Callable[[], str | None] | None = None  # set when tracing is on


class RequestObserver:
    def __init__(self, app: ASGIApp, *, options: ObserverOptions) -> None:
        self.app = app
        self.options = options
        self.names = metrics.OperationNames(options.max_operation_names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status: int | None = None
        trace_id: str | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, trace_id
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
                if self.options.trace_id is not None:
                    trace_id = self.options.trace_id()
            await send(message)

        started = time.perf_counter()
        record, token = open_record(request_id)
        try:
            with tallying() as tally:
                try:
                    await self.app(scope, receive, send_with_id)
                except BaseException:
                    status = status or 500
                    raise
        finally:
            try:
                self._finish(scope, record, status, time.perf_counter() - started, tally, trace_id)
            finally:
                close_record(token)  # after the log line, which gets the record's id

    def _finish(
        self,
        scope: Scope,
        record: RequestRecord,
        status: int | None,
        seconds: float,
        tally: StatementTally,
        trace_id: str | None,
    ) -> None:
        path: str = scope["path"]
        log_request(
            RequestLine(
                request_id=record.request_id,
                method=scope["method"],
                path=path,
                status=status,
                duration_ms=seconds * 1000,
                operation_type=record.operation_type,
                operation_name=_truncated(record.operation_name),
                error_codes=record.error_codes,
                statements=tally.count,
                trace_id=trace_id,
            )
        )
        if not self.options.metrics:
            return
        metrics.observe_http(self._route(path), status or 0)
        if self._carries_operation(scope):
            metrics.observe_operation(
                metrics.OperationSample(
                    operation_type=record.operation_type,
                    operation_name=record.operation_name,
                    error_codes=record.error_codes,
                    statements=tally.count,
                    seconds=seconds,
                ),
                self.names,
            )

    def _route(self, path: str) -> str:
        if path in self.options.routes:
            return path
        for prefix in self.options.route_prefixes:
            if path.startswith(prefix):
                return prefix
        return OTHER_ROUTE

    def _carries_operation(self, scope: Scope) -> bool:
        # GET without a query is the GraphiQL page, not an operation.
        if scope["path"] != self.options.graphql_path:
            return False
        return scope["method"] == "POST" or b"query=" in scope.get("query_string", b"")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _SAFE_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    # 128 random bits from the module's generator (seeded from the OS, and again in a forked
    # child): an id that correlates, not a secret, without uuid4's os.urandom call.
    return f"{random.getrandbits(128):032x}"


def _truncated(name: str | None) -> str | None:
    if name is None or len(name) <= metrics.MAX_NAME_LENGTH:
        return name
    return name[: metrics.MAX_NAME_LENGTH] + "..."
