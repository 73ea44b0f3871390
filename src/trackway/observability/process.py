"""What the `trackway server` process settles before any server starts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from trackway.config import ServerConfig
from trackway.observability import multiprocess, tracing


@contextmanager
def serving(config: ServerConfig) -> Iterator[None]:
    """Refuses an unusable `--otlp-endpoint` up front, with one line, rather than in
    each worker; gives `--workers` their shared metrics folder for as long as they run."""
    if config.otlp_endpoint:
        tracing.traces_url(config.otlp_endpoint)
        tracing.require()
    with multiprocess.shared_folder(config.workers):
        yield
