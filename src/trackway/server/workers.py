"""`--workers N`: N server processes on one port, for PostgreSQL and MySQL backends.

Each process is a full server with its own writer; the kernel spreads connections
across them (SO_REUSEPORT). The shared database orders their writes, as it does for
replicas on several machines. SQLite is refused: its single-writer design needs one
process.

The parent migrates the schema once, starts the workers and then only supervises:
SIGTERM or SIGINT is passed on to every worker, each of which drains and commits as a
lone server does. A worker that dies on its own takes the others down with it (the
port would otherwise be served by fewer processes than asked, silently), and the
parent exits with its code so that the supervisor (systemd, Kubernetes) restarts the
whole set.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from types import FrameType

from trackway.config import ServerConfig
from trackway.server import app
from trackway.store import engine, migrate

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.2


def check(config: ServerConfig) -> None:
    """Raises ValueError with one line when `--workers` cannot apply to this config."""
    if engine.sqlite_path(config.backend_store_uri) is not None:
        raise ValueError(
            f"--workers {config.workers} needs a PostgreSQL or MySQL store: SQLite takes "
            "one writer process (use --workers 1, or a postgresql:// store)"
        )
    if config.grpc_port == 0:
        raise ValueError("--workers above 1 needs a fixed --grpc-port")


def serve_processes(config: ServerConfig) -> int:
    check(config)
    migrate.upgrade(engine.create(config.backend_store_uri))
    root = logging.getLogger()
    formatter = root.handlers[0].formatter if root.handlers else None
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_worker,
            args=(config, formatter, root.level),
            name=f"trackway-worker-{i}",
            daemon=False,
        )
        for i in range(config.workers)
    ]
    stopping = threading.Event()

    def forward(signum: int, _frame: FrameType | None) -> None:
        stopping.set()
        _signal_all(procs, signal.SIGTERM)

    # Before the first start, so that no signal finds the parent without its handler.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.start()
    log.info("started %d workers on port %d", len(procs), config.grpc_port)
    failed = _supervise(procs, stopping)
    for proc in procs:
        proc.join()
    codes = [proc.exitcode or 0 for proc in procs]
    log.info("all %d workers stopped", len(procs))
    if failed is not None:
        return failed
    return max(abs(code) for code in codes)


def _supervise(procs: Sequence[BaseProcess], stopping: threading.Event) -> int | None:
    """Waits until every worker has exited. Returns the exit code of a worker that died
    while no stop was asked for (after stopping the others), else None."""
    while any(proc.is_alive() for proc in procs):
        for proc in procs:
            if stopping.is_set() or proc.is_alive() or proc.exitcode is None:
                continue
            code = abs(proc.exitcode) or 1
            log.error(
                "worker %s (pid %s) exited with %s; stopping the others",
                proc.name,
                proc.pid,
                proc.exitcode,
            )
            stopping.set()
            _signal_all(procs, signal.SIGTERM)
            for other in procs:
                other.join()
            return code
        stopping.wait(_POLL_SECONDS)
    return None


def _signal_all(procs: Sequence[BaseProcess], signum: int) -> None:
    for proc in procs:
        if proc.pid is not None and proc.is_alive():
            with contextlib.suppress(ProcessLookupError):  # exited meanwhile
                os.kill(proc.pid, signum)


def _worker(config: ServerConfig, formatter: logging.Formatter | None, level: int) -> None:
    """A worker's main: the parent's log format, then one ordinary server."""
    handler = logging.StreamHandler()
    if formatter is not None:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler], force=True)
    raise SystemExit(app.serve(config))
