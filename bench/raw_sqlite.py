"""The limit of the design: raw `sqlite3` inserts of the same rows into the same tables.

A fresh database gets Trackway's schema from `schema.metadata.create_all` (so `metrics`
has its `(series_id, step, id)` index), the PRAGMAs the server sets on its connections,
and then the rows, one `executemany` and one commit per batch, batch sizes as the
workload's. No gRPC, no protobuf, no validation, no series bookkeeping: what is left
is SQLite's own cost per row, which no server on this design can beat.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import create_engine

from bench.client import Row
from trackway.store.schema import metadata

INSERT = "INSERT INTO metrics (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)"
# As in trackway.store.engine._configure_sqlite (synchronous at the server's default).
# The server's writer leaves WAL checkpoints to another thread (store/wal_checkpoint.py),
# so its commits never checkpoint; neither do these.
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA cache_size=-65536",
    "PRAGMA wal_autocheckpoint=0",
)


def create_db(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    engine.dispose()


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


def insert_seconds(conn: sqlite3.Connection, batches: Sequence[Sequence[Row]]) -> float:
    """Inserts the batches, one transaction each; returns the seconds taken."""
    started = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(INSERT, rows)
        conn.execute("COMMIT")
    return time.perf_counter() - started


class RawBaseline:
    """A fresh database that takes the same batches again at each `time()`, as the server
    workloads append their repeats to one database. Timed between the server's repeats,
    so that both see the same background load."""

    def __init__(self, path: Path, batches: Sequence[Sequence[Row]]) -> None:
        self.batches = batches
        self.points = sum(len(b) for b in batches)
        create_db(path)
        self._conn = connect(path)
        insert_seconds(self._conn, batches[:1])  # warm-up, as the server workloads do

    def time(self) -> float:
        return insert_seconds(self._conn, self.batches)

    def close(self) -> None:
        self._conn.close()
