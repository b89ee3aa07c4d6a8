"""`taskql serve` as a real process on a free port, for the tests of replicas and shutdown."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.databases import DatabaseUnderTest

_SCRIPT = Path(sys.executable).with_name("taskql")
TASKQL = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "gql.cli"]
START_TIMEOUT_SECONDS = 60


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(
    database: DatabaseUnderTest, log: Path, *, workers: int = 1, **environ: str
) -> Served:
    """Started; call wait_until_serving before sending requests."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*TASKQL, "serve", "--port", str(port), "--workers", str(workers)],
            env={**os.environ, **database.environ(), **environ},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return Served(process, port, log)


def wait_until_serving(served: Served) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        assert served.process.poll() is None, f"serve exited: {served.output()}"
        try:
            if httpx.get(f"{served.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"serve did not become ready: {served.output()}"
        time.sleep(0.2)
