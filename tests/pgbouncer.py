"""A real PgBouncer in transaction mode, started by the test harness for the suite's third leg.

Debian's pgbouncer package installs a system service, and PgBouncer refuses to run as root.
So the harness takes the binary out of the package instead (`apt-get download` + `dpkg -x`
into a cache directory, when no pgbouncer is on PATH) and runs it as the `postgres` user on a
free loopback port. Its pool is small, so concurrent clients share server connections, as
they do behind any production pooler: anything session-scoped would leak between them.
"""

import contextlib
import fcntl
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL, make_url

from tests.databases import DatabaseUnderTest

# Server connections per (database, user): fewer than the suite's concurrent clients.
POOL_SIZE = 3
# pgbouncer's shared libraries that a Debian 12 base image may lack (libc6, libssl3, libpam0g
# and libsystemd0 it has); the packages of those not installed are unpacked beside it.
LIBRARY_PACKAGES = ("libc-ares2", "libevent-2.1-7")
CACHE_DIR = Path(tempfile.gettempdir()) / "taskql-test-pgbouncer"
START_TIMEOUT_SECONDS = 15
RUN_AS = "postgres"


class PoolerUnavailable(Exception):
    """PgBouncer could not be found, obtained or started; the message says why."""


@dataclass
class PgBouncer:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    def fronting(self, direct: DatabaseUnderTest) -> DatabaseUnderTest:
        """The same database, reached through this pooler."""
        url = make_url(direct.url).set(host="127.0.0.1", port=self.port)
        # LISTEN never hears other sessions through a transaction-mode pooler: the event
        # listener connects to the server itself, as docs/operations.md tells operators to.
        return DatabaseUnderTest(
            "pgbouncer", url.render_as_string(False), pooled=True, listen_url=direct.url
        )

    def log(self) -> str:
        return (self.workdir / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start(server_url: str) -> PgBouncer:
    """A PgBouncer in front of the PostgreSQL server of server_url, ready for connections."""
    binary, library_path = _binary()
    server = make_url(server_url)
    last_failure = ""
    for _attempt in range(3):  # a free port can be taken between choosing and binding it
        bouncer = _launch(binary, library_path, server, _free_port())
        try:
            _wait_until_ready(bouncer, server)
            return bouncer
        except PoolerUnavailable as exc:
            last_failure = str(exc)
            bouncer.stop()
    raise PoolerUnavailable(last_failure)


# -- obtaining the binary ---------------------------------------------------------


def _binary() -> tuple[Path, str | None]:
    """The pgbouncer executable and the LD_LIBRARY_PATH it needs (None: the system's)."""
    for candidate in (shutil.which("pgbouncer"), "/usr/sbin/pgbouncer"):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate), None
    with _locked(CACHE_DIR.with_suffix(".lock")):
        # Several test runs may share the machine: one unpacks, the others wait and reuse.
        if not (CACHE_DIR / "usr/sbin/pgbouncer").exists():
            _unpack_packages()
    library_dirs = [str(path) for path in sorted(CACHE_DIR.glob("usr/lib/*-linux-gnu"))]
    return CACHE_DIR / "usr/sbin/pgbouncer", ":".join(library_dirs) or None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _unpack_packages() -> None:
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise PoolerUnavailable("no pgbouncer on PATH, and no apt-get/dpkg to obtain one")
    if os.geteuid() != 0:
        raise PoolerUnavailable("no pgbouncer on PATH; obtaining one with apt-get needs root")
    with tempfile.TemporaryDirectory() as downloads:
        packages = ["pgbouncer", *(p for p in LIBRARY_PACKAGES if not _installed(p))]
        download = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *packages]
        if _run(download, cwd=downloads).returncode != 0:
            # A fresh machine may have no package lists yet.
            _run(["apt-get", "update", "-q"], cwd=downloads)
            fetched = _run(download, cwd=downloads)
            if fetched.returncode != 0:
                raise PoolerUnavailable(f"apt-get download failed: {fetched.stderr.strip()}")
        staging = Path(tempfile.mkdtemp(prefix="taskql-pgbouncer-"))
        for deb in sorted(Path(downloads).glob("*.deb")):
            unpacked = _run(["dpkg", "-x", str(deb), str(staging)])
            if unpacked.returncode != 0:
                raise PoolerUnavailable(f"dpkg -x {deb.name} failed: {unpacked.stderr.strip()}")
        # Readable and traversable by the user PgBouncer runs as.
        staging.chmod(0o755)
        shutil.rmtree(CACHE_DIR, ignore_errors=True)
        staging.rename(CACHE_DIR)


def _installed(package: str) -> bool:
    status = _run(["dpkg-query", "-W", "-f=${db:Status-Status}", package])
    return status.returncode == 0 and status.stdout.strip() == "installed"


def _run(command: list[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


# -- running it -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(server: URL, port: int) -> str:
    target = f"host={server.host or '127.0.0.1'} port={server.port or 5432}"
    target += f" user={server.username or 'postgres'}"
    if server.password:
        target += f" password={server.password}"
    return "\n".join(
        [
            "[databases]",
            # Any database name a client asks for, on the one server.
            f"* = {target}",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            f"listen_port = {port}",
            "unix_socket_dir =",
            # Clients are not authenticated; PgBouncer logs in to the server as `user`.
            "auth_type = any",
            "pool_mode = transaction",
            f"default_pool_size = {POOL_SIZE}",
            "reserve_pool_size = 0",
            "max_client_conn = 500",
            # A client that waits this long for a server connection gets an error instead
            # of hanging the suite: a deadlock over pool connections shows as a failure.
            "query_wait_timeout = 60",
            "",
        ]
    )


def _launch(binary: Path, library_path: str | None, server: URL, port: int) -> PgBouncer:
    workdir = Path(tempfile.mkdtemp(prefix="taskql-pgbouncer-run-"))
    workdir.chmod(0o755)
    config = workdir / "pgbouncer.ini"
    config.write_text(_config(server, port))
    config.chmod(0o644)
    log = (workdir / "pgbouncer.log").open("wb")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    if library_path:
        env["LD_LIBRARY_PATH"] = library_path
    as_user: dict[str, object] = {}
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        try:
            account = pwd.getpwnam(RUN_AS)
        except KeyError:
            raise PoolerUnavailable(f"running as root and there is no user {RUN_AS!r}") from None
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    process = subprocess.Popen(
        [str(binary), str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=workdir,
        **as_user,  # type: ignore[call-overload]
    )
    log.close()
    return PgBouncer(port, process, workdir)


def _wait_until_ready(bouncer: PgBouncer, server: URL) -> None:
    import asyncio

    async def probe() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=bouncer.port,
            user=server.username or "postgres",
            database=server.database or "postgres",
            statement_cache_size=0,
            timeout=2,
        )
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if bouncer.process.poll() is not None:
            raise PoolerUnavailable(f"pgbouncer exited at start: {bouncer.log().strip()}")
        try:
            asyncio.run(probe())
            return
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise PoolerUnavailable(
                    f"pgbouncer did not answer within {START_TIMEOUT_SECONDS} s ({exc}):"
                    f" {bouncer.log().strip()}"
                ) from exc
            time.sleep(0.2)
