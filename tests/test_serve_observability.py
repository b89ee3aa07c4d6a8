"""`taskql serve` as operators run it: JSON request logs, and metrics summed over workers."""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.scrape import parse
from tests.test_cli import TASKQL


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[int, str, Path]]:
    """A first-run embedded serve in tmp_path: (port, demo token, stderr file)."""
    port = _free_port()
    stderr_path = tmp_path / "stderr.log"
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update(env)
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [*TASKQL, "serve", "--port", str(port), *args],
            cwd=tmp_path,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = ""
            while not line.startswith("tq_"):
                line = proc.stdout.readline()
                assert line, f"serve exited early: {stderr_path.read_text()}"
            token = line.strip()
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline, "serve did not start listening"
                    time.sleep(0.2)
            yield port, token, stderr_path
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def request_lines(stderr: Path) -> list[dict[str, Any]]:
    lines = []
    for line in stderr.read_text().splitlines():
        entry = json.loads(line)  # every line is JSON, uvicorn's included
        if entry["logger"] == "taskql.request":
            lines.append(entry)
    return lines


def test_two_workers_sum_their_metrics_and_log_json_lines(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with serving(tmp_path, "--workers", "2", TASKQL_LOG_FORMAT="json", TMPDIR=str(scratch)) as (
        port,
        token,
        stderr,
    ):
        # The multiprocess directory serve made for the workers.
        (metrics_dir,) = scratch.iterdir()
        url = f"http://127.0.0.1:{port}"

        def probe(_: int) -> int:
            # A new connection each time, so the kernel hands requests to both workers.
            response = httpx.post(
                f"{url}/graphql",
                json={"query": "query WorkerProbe { me { handle } }"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.json() == {"data": {"me": {"handle": "@alice"}}}
            return response.status_code

        sent = 0
        pids: set[int] = set()
        with ThreadPoolExecutor(max_workers=8) as pool:
            while len(pids) < 2 and sent < 400:
                assert set(pool.map(probe, range(40))) == {200}
                sent += 40
                time.sleep(0.2)  # let the log lines land
                pids = {line["pid"] for line in request_lines(stderr) if line["path"] == "/graphql"}
        assert len(pids) == 2, "one worker answered every request"

        # Whichever worker answers a scrape, it reports both workers' requests.
        for _ in range(6):
            scrape = httpx.get(f"{url}/metrics")
            assert scrape.status_code == 200
            samples = parse(scrape.text)
            ops = samples.get(
                "taskql_graphql_operations_total",
                operation_type="query",
                operation_name="WorkerProbe",
            )
            assert ops == sent
            # Each worker's pool of 5 (SQLite's), summed over the live workers.
            assert samples.get("taskql_db_pool_size") == 10
            assert samples.get("taskql_subscriptions_open") == 0

        lines = [line for line in request_lines(stderr) if line["path"] == "/graphql"]
        assert len(lines) == sent
        line = lines[-1]
        assert line["status"] == 200
        assert line["operation_type"] == "query"
        assert line["operation_name"] == "WorkerProbe"
        assert line["statements"] >= 1
        assert len(line["request_id"]) == 32
        assert token not in stderr.read_text()
        assert metrics_dir.exists()
    assert not metrics_dir.exists(), "serve left its metrics directory behind"


def test_metrics_on_their_own_port(tmp_path: Path) -> None:
    metrics_port = _free_port()
    with serving(tmp_path, TASKQL_METRICS_PORT=str(metrics_port)) as (port, token, _):
        response = httpx.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "query OwnPort { me { handle } }"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 404
        samples = parse(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
        assert (
            samples.get(
                "taskql_graphql_operations_total", operation_type="query", operation_name="OwnPort"
            )
            == 1
        )
