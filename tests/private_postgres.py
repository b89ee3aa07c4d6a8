"""A PostgreSQL 15 cluster of the test's own, which the test may stop, start and restart.

The suite's shared server (127.0.0.1:5432) serves other test runs and must never be
restarted, so a test that needs a real restart gets a cluster of its own: `initdb` into a temp
directory, trust auth, loopback only on a free port, its unix socket inside that directory,
fsync off (nothing in it has to survive a crash of the machine). PostgreSQL refuses to run as
root, so under root the cluster belongs to, and runs as, the `postgres` user (as
tests/pgbouncer.py runs PgBouncer).
"""

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

BINDIR = Path(os.environ.get("TASKQL_TEST_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
RUN_AS = "postgres"
START_TIMEOUT_SECONDS = 30


class PostgresUnavailable(Exception):
    """The private cluster could not be created or started; the message says why."""


@dataclass
class PrivatePostgres:
    workdir: Path
    port: int
    _as_user: dict[str, Any]

    @property
    def datadir(self) -> Path:
        return self.workdir / "data"

    @property
    def logfile(self) -> Path:
        return self.workdir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return URL.create(
            "postgresql+asyncpg",
            username="postgres",
            host="127.0.0.1",
            port=self.port,
            database=database,
        ).render_as_string(hide_password=False)

    def log(self) -> str:
        try:
            return self.logfile.read_text(errors="replace")
        except OSError:
            return ""

    # Blocking: a test running on an event loop uses the async methods below, or the
    # servers it runs on that loop would stall for as long as pg_ctl takes.

    def start(self) -> None:
        """Start on the same port and data directory; returns once it accepts connections."""
        started = self._pg_ctl(
            "start", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.logfile)
        )
        if started.returncode != 0:
            raise PostgresUnavailable(
                f"pg_ctl start failed: {started.stderr.strip()}\n{self.log()[-2000:]}"
            )

    def stop(self) -> None:
        """Fast shutdown: sessions are terminated, as in a real restart or failover."""
        stopped = self._pg_ctl("stop", "-m", "fast", "-w")
        if stopped.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl stop failed: {stopped.stderr.strip()}")

    def restart(self) -> None:
        restarted = self._pg_ctl(
            "restart", "-m", "fast", "-w", "-t", str(START_TIMEOUT_SECONDS), "-l", str(self.logfile)
        )
        if restarted.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl restart failed: {restarted.stderr.strip()}")

    def destroy(self) -> None:
        """Stop the server if it runs and remove the cluster."""
        if (self.datadir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(self.workdir, ignore_errors=True)

    async def stopped(self) -> None:
        await asyncio.to_thread(self.stop)

    async def started(self) -> None:
        await asyncio.to_thread(self.start)

    async def restarted(self) -> None:
        await asyncio.to_thread(self.restart)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(BINDIR / "pg_ctl"), "-D", str(self.datadir), *args], self._as_user)


def create() -> PrivatePostgres:
    """A new cluster, started and accepting connections on 127.0.0.1."""
    for binary in ("initdb", "pg_ctl", "postgres"):
        if not os.access(BINDIR / binary, os.X_OK):
            raise PostgresUnavailable(f"no {BINDIR / binary} (set TASKQL_TEST_PG_BINDIR)")
    as_user = _run_as()
    workdir = Path(tempfile.mkdtemp(prefix="taskql-private-pg-"))
    try:
        if as_user:
            os.chown(workdir, as_user["user"], as_user["group"])
        cluster = PrivatePostgres(workdir, 0, as_user)
        initialized = _run(
            [
                str(BINDIR / "initdb"),
                "-D",
                str(cluster.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--encoding=UTF8",
                "--locale=C",
            ],
            as_user,
        )
        if initialized.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {initialized.stderr.strip()}")
        last_failure = ""
        for _attempt in range(3):  # a free port can be taken between choosing and binding it
            cluster.port = _free_port()
            _configure(cluster)
            try:
                cluster.start()
                return cluster
            except PostgresUnavailable as exc:
                last_failure = str(exc)
        raise PostgresUnavailable(last_failure)
    except BaseException:
        PrivatePostgres(workdir, 0, as_user).destroy()
        raise


def _configure(cluster: PrivatePostgres) -> None:
    # Read after postgresql.conf's own lines: the last setting of a name wins.
    settings = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(cluster.port),
        "unix_socket_directories": f"'{cluster.workdir}'",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "max_connections": "100",
        "shared_buffers": "32MB",
    }
    conf = cluster.datadir / "postgresql.auto.conf"
    conf.write_text("".join(f"{name} = {value}\n" for name, value in settings.items()))
    if cluster._as_user:
        os.chown(conf, cluster._as_user["user"], cluster._as_user["group"])


def _run_as() -> dict[str, Any]:
    """subprocess arguments that drop root to the postgres user (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}
    try:
        account = pwd.getpwnam(RUN_AS)
    except KeyError:
        raise PostgresUnavailable(f"running as root and there is no user {RUN_AS!r}") from None
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _run(command: list[str], as_user: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    # The server inherits pg_ctl's environment and working directory: keep both neutral
    # (a root-only working directory would be unreadable to it).
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd="/",
        stdin=subprocess.DEVNULL,
        **as_user,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
