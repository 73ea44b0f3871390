"""`--workers`: ingest throughput of one server process, and of two on one port, on
PostgreSQL.

The load is `concurrent_writers`' (8 writer processes, each streaming 20,000 points on
a connection of its own); the kernel hands each connection to one of the workers
(SO_REUSEPORT). One line per worker count, "workers": 1 and 2, each with "points",
"seconds" (median), "points_per_s" and the server tree's peak RSS; the line of 2 adds
"speedup" over 1. Needs TRACKWAY_TEST_POSTGRES_URL (`make bench` starts PostgreSQL); each
line gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

import sqlalchemy as sa

from bench import client
from bench.context import Context
from bench.ingest import (
    WRITER_BATCH,
    WRITER_SERIES,
    WRITERS,
    _writer_process,
    _writers_go,
    _writers_ready,
)
from bench.log import progress
from bench.results import Record, throughput
from bench.server import RssSampler, free_port, trackway_command, wait_serving

PG_ENV = "TRACKWAY_TEST_POSTGRES_URL"
WORKER_COUNTS = (1, 2)
# PostgreSQL ingest of one process (COPY) on a small machine. What a second worker adds
# depends on the cores left beside the database and the 8 writers (on a shared 2-core
# machine, from nothing to a third), so "speedup" is reported, not judged; "cpus" says
# what the machine had.
TARGET = 100_000


class PostgresServer:
    """`trackway server --workers N` on a fresh PostgreSQL database of its own."""

    def __init__(self, admin_url: str, tmp: Path, workers: int) -> None:
        self.admin_url = admin_url
        self.workers = workers
        self.database = f"tw_bench_{uuid.uuid4().hex[:12]}"
        self.url = sa.make_url(admin_url).set(database=self.database)
        self.root = tmp / self.database
        self.root.mkdir(parents=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = open(self.root / "server.log", "ab")  # noqa: SIM115 - closed in __exit__

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "the server is not running"
        return self.proc.pid

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
        engine.dispose()

    def count_points(self) -> int:
        engine = sa.create_engine(self.url)
        with engine.connect() as conn:
            found = conn.exec_driver_sql("SELECT COUNT(*) FROM metrics").scalar()
        engine.dispose()
        return int(found or 0)

    def __enter__(self) -> PostgresServer:
        self._admin(f'CREATE DATABASE "{self.database}"')
        args = [
            *trackway_command(),
            "server",
            "--workers",
            str(self.workers),
            "--grpc-port",
            str(self.port),
            "--http-port",
            "-1",
            "--backend-store-uri",
            self.url.render_as_string(hide_password=False),
            "--artifacts-destination",
            (self.root / "artifacts").as_uri(),
            "--grace-seconds",
            "2",
            "--log-level",
            "WARNING",
        ]
        self.proc = subprocess.Popen(
            args,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        wait_serving(self.port, self.proc)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                sys.stderr.write("[bench] server ignored SIGTERM for 30 s; killing it\n")
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        self._admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def _one(ctx: Context, admin_url: str, workers: int, repeats: int) -> Record:
    name = f"workers_ingest[{workers}]"
    total = WRITERS * WRITER_SERIES.points
    # spawn, not fork: the parent holds live gRPC channels, which do not survive a fork.
    spawn = mp.get_context("spawn")
    with PostgresServer(admin_url, ctx.tmp, workers) as server:
        channel, stub = client.connect(server.target)
        experiment = client.create_experiment(stub)
        pipes, procs = [], []
        for _ in range(WRITERS):
            parent, child = spawn.Pipe()
            proc = spawn.Process(target=_writer_process, args=(server.target, child), daemon=True)
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        seconds = []
        try:
            _writers_ready(stub, experiment, pipes, seed=0)  # warm-up
            _writers_go(pipes)
            with RssSampler(server.pid) as sampler:
                for i in range(repeats):
                    _writers_ready(stub, experiment, pipes, seed=i + 1)
                    seconds.append(_writers_go(pipes))
                    progress(f"{name}: {i + 1}/{repeats}: {seconds[-1]:.3f} s")
        finally:
            for pipe in pipes:
                pipe.send(None)
            for proc in procs:
                proc.join(10)
            channel.close()
        stored = server.count_points()
    return throughput(
        "workers_ingest",
        total,
        seconds,
        target_points_per_s=TARGET,
        workers=workers,
        backend="postgresql",
        cpus=os.cpu_count(),
        writers=WRITERS,
        points_per_writer=WRITER_SERIES.points,
        batch_points=WRITER_BATCH,
        server_peak_rss_mb=sampler.peak_mb,
        points_stored_ok=stored == (repeats + 1) * total,
    )


def workers_ingest(ctx: Context) -> list[Record]:
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        raise RuntimeError(f"{PG_ENV} is not set; `make bench` starts PostgreSQL and sets it")
    repeats = ctx.reps(3)
    records = []
    for workers in WORKER_COUNTS:
        records.append(_one(ctx, admin_url, workers, repeats))
        time.sleep(1)  # let the previous server's connections close
    base = records[0]["points_per_s"]
    for rec in records[1:]:
        verdict = {k: rec.pop(k) for k in ("target", "meets_target")}
        rec["speedup"] = round(rec["points_per_s"] / base, 3)
        rec.update(verdict)
    return records
