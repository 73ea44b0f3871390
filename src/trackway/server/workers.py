"""`--workers N`: N server processes on one port, for PostgreSQL backends.

Each process is a full server with its own writer; the kernel spreads connections
across them (SO_REUSEPORT). SQLite is refused: its single-writer design needs one
process.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from types import FrameType

from trackway.config import ServerConfig
from trackway.server import app
from trackway.store import engine, migrate

log = logging.getLogger(__name__)


def serve_processes(config: ServerConfig) -> int:
    if engine.sqlite_path(config.backend_store_uri) is not None:
        raise ValueError(
            "--workers above 1 needs a PostgreSQL store; SQLite takes one writer process"
        )
    if config.grpc_port == 0:
        raise ValueError("--workers above 1 needs a fixed --grpc-port")
    migrate.upgrade(engine.create(config.backend_store_uri))
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=app.serve, args=(config,), daemon=False) for _ in range(config.workers)
    ]
    for proc in procs:
        proc.start()

    def forward(signum: int, _frame: FrameType | None) -> None:
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate() if signum == signal.SIGTERM else proc.kill()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, lambda s, f: forward(signal.SIGTERM, f))
    codes = []
    for proc in procs:
        proc.join()
        codes.append(proc.exitcode or 0)
    log.info("all %d workers stopped", len(procs))
    return max(codes)
