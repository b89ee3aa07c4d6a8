"""Logs an operator can use: one line per request, text or JSON lines, and the
logging setup `taskql serve` installs (for uvicorn's loggers too).

A request line carries the request id, method, path, status, duration, the operation's
type and name, its error codes and its SQL statement count. It never carries a header
value (tokens), a variable or the document: nothing a client sent but the operation's
name, which passed GraphQL's name grammar.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from db.settings import Settings
from gql.request_record import current_record

log = logging.getLogger("taskql.request")

# Probes and scrapes arrive every few seconds; they are logged only when they fail
# (or at DEBUG).
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_LINE_ATTRIBUTE = "taskql_request_line"


@dataclass(frozen=True)
class RequestLine:
    request_id: str
    method: str
    path: str
    status: int | None  # None: the client left before an answer
    duration_ms: float
    operation_type: str | None = None
    operation_name: str | None = None
    error_codes: list[str] = field(default_factory=list)
    statements: int = 0
    trace_id: str | None = None

    def text(self) -> str:
        parts = [
            f"{self.method} {self.path} {self.status if self.status is not None else '-'}",
            f"{self.duration_ms:.1f}ms",
        ]
        if self.operation_type:
            parts.append(f"{self.operation_type} {self.operation_name or '(anonymous)'}")
        if self.error_codes:
            parts.append("errors=" + ",".join(self.error_codes))
        parts.append(f"sql={self.statements}")
        if self.trace_id:
            parts.append(f"trace_id={self.trace_id}")
        return " ".join(parts)


def log_request(line: RequestLine) -> None:
    quiet = line.path in QUIET_PATHS and line.status is not None and line.status < 400
    level = logging.DEBUG if quiet else logging.INFO
    if log.isEnabledFor(level):
        # The line itself: only the JSON formatter spells out its fields.
        log.log(level, "%s", line.text(), extra={_LINE_ATTRIBUTE: line})


class RequestIdFilter(logging.Filter):
    """Gives every log record the id of the request it was logged in ('-' outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = current_record()
        record.request_id = current.request_id if current is not None else "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            entry["request_id"] = request_id
        line = getattr(record, _LINE_ATTRIBUTE, None)
        if line is not None:
            entry.update((k, v) for k, v in vars(line).items() if v is not None)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class TextFormatter(logging.Formatter):
    """logging's own text format, with the date and time of a second formatted once for
    every line logged within it (time.strftime was about a fifth of a request line's cost)."""

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt or TEXT_FORMAT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"  # logging's default_msec_format


def logging_config(settings: Settings) -> dict[str, Any]:
    """A dictConfig for taskql's and uvicorn's loggers; uvicorn applies it in every worker."""
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonFormatter"}
        if settings.log_format == "json"
        else {"()": f"{__name__}.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "taskql": {"handlers": ["stderr"], "level": settings.log_level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": settings.log_level, "propagate": False},
            # taskql.request is the access log.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
