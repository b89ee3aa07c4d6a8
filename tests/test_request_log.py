"""One log line per request, with an id the caller can follow, and no secrets in it."""

import json
import logging
import re

import httpx
import pytest

from gql.request_log import JsonFormatter, RequestIdFilter
from tests.factories import Member

REQUEST_LOGGER = "taskql.request"
SECRET = "hunter2-very-secret-value"


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == REQUEST_LOGGER]


async def test_one_line_per_request_with_operation_status_codes_and_id(
    http: httpx.AsyncClient, member: Member, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskql")
    response = await http.post(
        "/graphql",
        json={"query": 'mutation Gone { deleteTask(id: "987654321") }'},
        headers={"Authorization": f"Bearer {member.token}", "X-Request-ID": "req-42.abc"},
    )
    assert response.headers["x-request-id"] == "req-42.abc"
    (record,) = request_records(caplog)
    message = record.getMessage()
    assert message.startswith("POST /graphql 200 ")
    assert re.search(r" \d+\.\dms ", message)
    assert "mutation Gone" in message
    assert "errors=NOT_FOUND" in message
    assert "sql=" in message
    entry = json.loads(JsonFormatter().format(record))
    assert entry["request_id"] == "req-42.abc"
    assert entry["status"] == 200
    assert entry["operation_type"] == "mutation"
    assert entry["operation_name"] == "Gone"
    assert entry["error_codes"] == ["NOT_FOUND"]
    assert entry["statements"] >= 1
    assert entry["duration_ms"] > 0


@pytest.mark.parametrize(
    "sent",
    [None, "", "x" * 129, "has space", "semi;colon", "ünicode", "new\nline"],
)
async def test_an_unsafe_or_missing_request_id_is_replaced(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, sent: str | None
) -> None:
    caplog.set_level(logging.INFO, logger="taskql")
    headers = {} if sent is None else {"X-Request-ID": sent.encode("utf-8")}
    try:
        response = await http.get("/healthz", headers=headers)  # type: ignore[arg-type]
    except httpx.LocalProtocolError:
        pytest.skip("httpx will not send this header")
    generated = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert generated != sent


async def test_the_id_is_on_every_line_logged_during_the_request(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskql")
    caplog.handler.addFilter(RequestIdFilter())
    await http.get("/readyz", headers={"X-Request-ID": "probe-1"})
    (record,) = request_records(caplog)
    assert record.levelno == logging.DEBUG  # a probe that succeeds is not news
    assert record.request_id == "probe-1"  # type: ignore[attr-defined]
    assert json.loads(JsonFormatter().format(record))["path"] == "/readyz"


async def test_refused_bodies_are_logged_with_their_code(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskql")
    response = await http.post(
        "/graphql", content=b"[1]", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "x-request-id" in response.headers
    (record,) = request_records(caplog)
    assert "POST /graphql 400" in record.getMessage()
    assert "errors=BAD_USER_INPUT" in record.getMessage()


async def test_neither_tokens_nor_variable_values_are_logged(
    http: httpx.AsyncClient, member: Member, caplog: pytest.LogCaptureFixture
) -> None:
    # What serve sets up at TASKQL_LOG_LEVEL=DEBUG: taskql's loggers at DEBUG, other
    # libraries' at WARNING (their DEBUG lines carry SQL parameters).
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="taskql")
    queries = [
        # A good operation, a failing one with the secret as an input, and an invalid one.
        ("query Find($t: String!) { tasks(where: {title: {eq: $t}}) { totalCount } }", {}),
        (
            "mutation Make($t: String!) { createTask(input: {title: $t, progressPercent: 500}) { id } }",
            {},
        ),
        ("query Bad($t: String!) { nope(x: $t) }", {}),
    ]
    for query, _ in queries:
        await http.post(
            "/graphql",
            json={"query": query, "variables": {"t": SECRET}},
            headers={"Authorization": f"Bearer {member.token}"},
        )
    # A bad token is not logged either.
    await http.post(
        "/graphql",
        json={"query": "{ me { id } }", "variables": {"t": SECRET}},
        headers={"Authorization": f"Bearer tq_{SECRET}"},
    )
    assert len(request_records(caplog)) == 4
    formatter = JsonFormatter()
    logged = "\n".join([caplog.text, *(formatter.format(record) for record in caplog.records)])
    assert SECRET not in logged
    assert member.token not in logged
    assert member.token[3:15] not in logged
