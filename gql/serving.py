"""uvicorn, run so that a SIGTERM cuts no request: stop listening, answer, then exit.

Stock uvicorn drops requests at shutdown in three places, all of which a client sees as a
connection closed with no answer (a write it cannot know the fate of):
- connections the kernel accepted that the server had not taken yet are reset when the
  listening socket closes;
- a connection with no request in flight (just accepted, or idle between keep-alive
  requests) is closed at once, also when its request is already on the way;
- with `--workers N` the supervisor keeps its copy of the listening socket open while the
  workers drain, so the kernel goes on accepting connections that no process will serve.
Here the waiting connections are taken before the socket closes, a connection without a
request gets a short window to send one (answered with `Connection: close`), and the
supervisor closes its socket before it signals the workers. A client either gets its
answer or has its connection refused.
"""

import asyncio
import functools
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("uvicorn.error")

# How long a connection with no request in flight may still send one once shutdown began.
IDLE_CONNECTION_GRACE_SECONDS = 1.0


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, except that shutdown waits for a request on its way."""

    _draining = False

    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # answered, then closed
            return
        grace = IDLE_CONNECTION_GRACE_SECONDS
        if self.config.timeout_graceful_shutdown is not None:
            grace = min(grace, self.config.timeout_graceful_shutdown)
        self.loop.call_later(grace, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False


class GracefulServer(uvicorn.Server):
    """uvicorn's server, except that connections waiting in the backlog are served."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        waiting = [conn for server in self.servers for conn in _accept_waiting(server)]
        # Right after taking them, with no await between: nothing new can queue unseen.
        for server in self.servers:
            server.close()
        loop = asyncio.get_running_loop()
        for conn in waiting:
            await loop.connect_accepted_socket(self._new_protocol, conn)
        await super().shutdown(sockets)

    def _new_protocol(self) -> asyncio.Protocol:
        # What uvicorn's startup builds for each connection it accepts.
        protocol: asyncio.Protocol = self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )
        return protocol


def _accept_waiting(server: asyncio.base_events.Server) -> list[socket.socket]:
    accepted: list[socket.socket] = []
    for listener in server.sockets or ():
        # A duplicate descriptor of the listening socket; closing it leaves the original.
        with socket.socket(fileno=os.dup(listener.fileno())) as sock:
            sock.setblocking(False)
            while True:
                try:
                    conn, _address = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                conn.setblocking(False)
                accepted.append(conn)
    return accepted


def serve(config: uvicorn.Config) -> None:
    """Run config's app until SIGTERM or SIGINT, then drain within its graceful timeout."""
    if config.workers <= 1:
        server = GracefulServer(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    _supervise(config)


def _supervise(config: uvicorn.Config) -> None:
    """N worker processes on one listening socket, replaced when one dies."""
    listener = config.bind_socket()
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def start_worker() -> Any:
        worker = spawn.Process(target=functools.partial(_worker, config), args=([listener],))
        worker.start()
        return worker

    workers = [start_worker() for _ in range(config.workers)]
    log.info("Started parent process [%d]", os.getpid())
    failed = False
    while not stop.wait(0.5):
        for index, worker in enumerate(workers):
            if worker.is_alive():
                continue
            if worker.exitcode == STARTUP_FAILURE:
                log.error("Worker [%d] failed to start; stopping.", worker.pid)
                failed = True
                stop.set()
                break
            log.warning(
                "Worker [%d] died (exit code %s); starting another.", worker.pid, worker.exitcode
            )
            workers[index] = start_worker()

    # The workers' copies of the socket are now the last ones: once each worker has closed
    # its own, the port refuses connections instead of queueing them for nobody.
    listener.close()
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.join()
    log.info("Stopping parent process [%d]", os.getpid())
    if failed:
        sys.exit(STARTUP_FAILURE)


def _worker(config: uvicorn.Config, sockets: list[socket.socket]) -> None:
    # A spawned process: logging is configured again, as uvicorn does for its workers.
    config.configure_logging()
    GracefulServer(config).run(sockets=sockets)
