"""Repeated reads answered from what the first one took: no Strawberry, no graphql-core.

Clients read the same thing again and again: a dashboard polling, a page reloaded, an
agent's loop, a list paged with the same document and variables. The first time, a read
goes the whole way: Strawberry's view, graphql-core's parsing, validation and limits, the
preflight checks and row budget, the caller, the plan (gql/planned.py). When every root
field of it was answered by one JSON statement, what the answer took is kept: those
statements with their bound values, keyed by the exact request body, the request headers
that shape the answer, and the caller. The same request from the same caller then runs the
same statements on one pooled connection, without a transaction (db/direct_reads.py), and
builds the body exactly as the full path does (`_body`).

Why it is the same answer:
- What the full path decides before its statements run is a function of the key: parsing,
  validation, the limits, preflight and the plan depend on the document, the variables, the
  operation name and the settings; the caller comes from the same token cache the full path
  consults (through the app's one db/token_refresh.py), so a revoked token stops working as
  soon as it does there (TASKQL_TOKEN_CACHE_SECONDS), and its last-used write happens as
  there (ahead of time, by the refresh, or on the full path when it is due).
- The data is read fresh on every request: only the statements are kept.
- An entry is kept only after the body built from the statements' own results was
  byte-identical to the body the full path sent, with status 200 and no errors.
- A statement that returns no row for a non-null root field, or any failure, hands the
  request to the full path, which reports it as it reports every failure; a statement
  that ran past the timeout is reported at its root field without being run again.

Requests still pass through the body guard and the request observer (request id, log
line, metrics with the operation's type and name, statement count). While tracing is on
every request goes the full path, so that each has its spans.
"""

import logging
from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db import direct_reads
from db.errors import StatementTimedOut
from db.services.tokens import Principal
from db.token_refresh import TokenRefresher
from gql.metrics import KNOWN_READS
from gql.request_record import current_record

log = logging.getLogger("taskql.known_reads")

# The request headers that decide a known read: the caller's token and how the full path
# would answer (Strawberry's view reads the content type and what the client accepts).
_SHAPING = frozenset({b"authorization", b"content-type", b"accept"})

# Bodies larger than this are not kept (nor are answers larger than MAX_ANSWER_BYTES):
# the cache holds at most entries x this, and large documents are rarely repeated verbatim.
MAX_BODY_BYTES = 16_384
MAX_ANSWER_BYTES = 4_194_304


@dataclass
class RecordedRoot:
    """One root field as the plan answered it."""

    sql: str
    values: tuple[Any, ...]
    text: str | None
    nullable: bool


@dataclass
class Recording:
    """What the full path did for one request, filled by gql/planned.py as it goes."""

    roots: dict[str, RecordedRoot] = field(default_factory=dict)
    principal: Principal | None = None
    operation_name: str | None = None
    # False once anything was answered another way (graphql-core, the level path, an error).
    replayable: bool = True


# Set by the middleware around the full path; gql/planned.py records into it.
RECORDING: ContextVar[Recording | None] = ContextVar("taskql_recording", default=None)
# Root fields whose statement already failed in this request (the timeout): gql/planned.py
# reports the failure at the field instead of running the statement again.
FAILED_ROOTS: ContextVar[dict[str, BaseException] | None] = ContextVar(
    "taskql_failed_roots", default=None
)


def spoil() -> None:
    """This request's answer was not built by JSON statements alone: keep nothing."""
    recording = RECORDING.get()
    if recording is not None:
        recording.replayable = False


@dataclass(frozen=True)
class KnownRead:
    keys: tuple[str, ...]  # the root fields' response keys, in the answer's order
    statements: tuple[direct_reads.Statement, ...]
    nullable: tuple[bool, ...]
    operation_name: str | None
    headers: tuple[tuple[bytes, bytes], ...]  # the full path's (content-length: replaced)


@dataclass
class _Captured:
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0


class KnownReads:
    """ASGI middleware: answers a repeated read from its KnownRead, records the others."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str,
        size: int,
        statement_timeout_ms: int,
        metrics: bool = True,
    ) -> None:
        self.app = app
        self.outcomes = (
            {name: KNOWN_READS.labels(name) for name in ("answered", "kept", "handed_over")}
            if metrics
            else None
        )
        self.path = path
        self.size = size
        self.timeout_ms = statement_timeout_ms
        self.entries: OrderedDict[tuple[Any, ...], KnownRead] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.size <= 0
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
        ):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        principal, shape = self._request(scope)
        known = self.entries.get((body, shape, principal)) if principal is not None else None
        failed: dict[str, BaseException] | None = None
        if known is not None:
            self.entries.move_to_end((body, shape, principal))
            payload: bytes | None = None
            try:
                payload = await self._answer(scope, known)
            except StatementTimedOut as exc:
                # Not run again: the full path reports it at the root field it belongs to.
                failed = {known.keys[exc.index]: exc}
            except Exception:  # noqa: BLE001 (the full path meets it and reports it)
                pass
            if payload is not None:
                await self._send(send, known, payload)
                self._count("answered")
                return
            self._count("handed_over")
        await self._full_path(scope, body, shape, send, receive, failed)

    def _request(self, scope: Scope) -> tuple[Principal | None, tuple[bytes, ...]]:
        """The caller by the token cache (None: unknown or due a lookup), and the parts of
        the request besides its body that shape how the full path answers it."""
        found: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            # The first of a repeated header, as Starlette's `headers.get` reads it.
            if name in _SHAPING and name not in found:
                found[name] = value
        authorization = found.get(b"authorization", b"")
        shape = (
            found.get(b"content-type", b""),
            found.get(b"accept", b""),
            scope.get("query_string", b""),
        )
        scheme, _, secret = authorization.decode("latin-1").partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None, shape
        refresher: TokenRefresher = scope["app"].state.token_refresher
        return refresher.principal(secret), shape

    async def _answer(self, scope: Scope, known: KnownRead) -> bytes | None:
        """The body, or None where graphql-core would report a null for a non-null root."""
        engine: AsyncEngine = scope["app"].state.engine
        texts = await direct_reads.fetch_json(engine, known.statements, timeout_ms=self.timeout_ms)
        for text, nullable in zip(texts, known.nullable, strict=True):
            if text is None and not nullable:
                return None
        return _body(known.keys, texts)

    @staticmethod
    async def _send(send: Send, known: KnownRead, payload: bytes) -> None:
        record = current_record()
        if record is not None:
            record.operation_type, record.operation_name = "query", known.operation_name
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (name, str(len(payload)).encode() if name == b"content-length" else value)
                    for name, value in known.headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _full_path(
        self,
        scope: Scope,
        body: bytes,
        shape: tuple[bytes, ...],
        send: Send,
        receive: Receive,
        failed: dict[str, BaseException] | None,
    ) -> None:
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # what follows the body: the client's disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        keep = len(body) <= MAX_BODY_BYTES and failed is None
        captured = _Captured()

        async def capture(message: Message) -> None:
            if keep:
                if message["type"] == "http.response.start":
                    captured.status = message["status"]
                    captured.headers = list(message.get("headers", ()))
                elif message["type"] == "http.response.body" and captured.size <= MAX_ANSWER_BYTES:
                    chunk = message.get("body", b"")
                    captured.chunks.append(chunk)
                    captured.size += len(chunk)
            await send(message)

        recording = Recording() if keep else None
        recorded = RECORDING.set(recording)
        failures = FAILED_ROOTS.set(failed)
        try:
            await self.app(scope, replay, capture)
        finally:
            FAILED_ROOTS.reset(failures)
            RECORDING.reset(recorded)
        if recording is not None and recording.principal is not None:
            # Keyed by the caller the full path answered for: this request's token's.
            try:
                self._keep((body, shape, recording.principal), recording, captured)
            except Exception:  # the answer is sent; only the entry is lost
                log.warning("keeping a known read failed", exc_info=True)

    def _keep(self, key: tuple[Any, ...], recording: Recording, captured: _Captured) -> None:
        if (
            not recording.replayable
            or not recording.roots
            or captured.status != 200
            or captured.size > MAX_ANSWER_BYTES
        ):
            return
        sent = b"".join(captured.chunks)
        try:
            data = orjson.loads(sent)["data"]
            keys = tuple(data)
            roots = [recording.roots[k] for k in keys]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return
        if _body(keys, [root.text for root in roots]) != sent:
            return
        self.entries[key] = KnownRead(
            keys=keys,
            statements=tuple((root.sql, root.values) for root in roots),
            nullable=tuple(root.nullable for root in roots),
            operation_name=recording.operation_name,
            headers=tuple(captured.headers),
        )
        self._count("kept")
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def _count(self, outcome: str) -> None:
        if self.outcomes is not None:
            self.outcomes[outcome].inc()


def _body(keys: Sequence[str], texts: Sequence[str | None]) -> bytes:
    """The response body from the root fields' JSON: the one writing that keeping and
    answering use. The statements' JSON is compact and renders strings and numbers as orjson
    does (tests/test_planned_json.py holds PostgreSQL's rendering to orjson's), so it is
    spliced as it is; the full path writes the same bytes with orjson over the parsed values,
    and an entry is kept only after the two bodies were found identical."""
    pieces = [b'{"data":{']
    for index, (key, text) in enumerate(zip(keys, texts, strict=True)):
        if index:
            pieces.append(b",")
        pieces += (orjson.dumps(key), b":", b"null" if text is None else text.encode())
    pieces.append(b"}}")
    return b"".join(pieces)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
