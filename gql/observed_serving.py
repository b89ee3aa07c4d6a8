"""What `taskql serve` sets up around uvicorn for observability: logging in every
worker, prometheus_client's multiprocess directory under --workers, and the metrics
listener when TASKQL_METRICS_PORT moves /metrics off the app."""

import logging.config
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from db.settings import Settings
from gql.metrics import MULTIPROC_DIR_ENV
from gql.observability import check_tracing_available
from gql.request_log import logging_config


@contextmanager
def observed_serving(settings: Settings, *, host: str, workers: int) -> Iterator[dict[str, Any]]:
    """Yields uvicorn.run's logging arguments; cleans up after uvicorn returns."""
    check_tracing_available(settings)
    log_config = logging_config(settings)
    logging.config.dictConfig(log_config)
    own_dir = None
    if settings.metrics and workers > 1 and not os.environ.get(MULTIPROC_DIR_ENV):
        # Workers inherit the environment; prometheus_client reads it at import.
        own_dir = tempfile.mkdtemp(prefix="taskql-metrics-")
        os.environ[MULTIPROC_DIR_ENV] = own_dir
    try:
        if settings.metrics and settings.metrics_port is not None:
            _start_metrics_listener(settings.metrics_host or host, settings.metrics_port)
        yield {
            "log_config": log_config,
            "log_level": settings.log_level.lower(),
            "access_log": False,  # taskql.request logs every request, with more
        }
    finally:
        if own_dir is not None:
            os.environ.pop(MULTIPROC_DIR_ENV, None)
            shutil.rmtree(own_dir, ignore_errors=True)


def _start_metrics_listener(host: str, port: int) -> None:
    """/metrics on its own port, from this process: under --workers it is the supervisor,
    which reads every worker's files; with one worker it shares the app's registry."""
    from prometheus_client import start_http_server

    from gql.metrics import scrape_registry

    start_http_server(port, addr=host, registry=scrape_registry())
