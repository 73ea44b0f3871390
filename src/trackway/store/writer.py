"""The group-commit writer: every write of the process goes through one thread.

Request threads submit a job (a function of a connection) and wait on its future. The
writer thread takes every job that is waiting, runs them in one transaction, each in
its own savepoint so that a failing job is rolled back alone, commits once, and only
then resolves the futures: a resolved future means the write is committed. Under load
a commit carries many requests, which is where the throughput comes from; on SQLite a
single writer also means no client ever sees "database is locked".
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from trackway.errors import Unavailable
from trackway.store.engine import IMMEDIATE
from trackway.store.wal_checkpoint import WalCheckpointer

T = TypeVar("T")
Job = Callable[[Connection], Any]
log = logging.getLogger(__name__)

_STOP = object()


@dataclass
class WriterStats:
    """Counters of the commits so far, for tests; /metrics observes `on_commit`."""

    commits: int = 0
    jobs: int = 0
    commit_seconds: float = 0.0
    largest_group: int = 0


class GroupCommitWriter:
    """Runs write jobs on one connection, committing them in groups."""

    def __init__(self, engine: Engine, *, max_group: int = 512) -> None:
        self._engine = engine
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self.stats = WriterStats()
        # Told (group size, seconds) after each commit, before its writers are answered.
        # Once per commit, never per job: this thread is the ingest path's bottleneck.
        self.on_commit: Callable[[int, float], None] | None = None
        self._wal = WalCheckpointer.for_engine(engine)
        self._thread = threading.Thread(target=self._run, name="trackway-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise Unavailable("the server is shutting down; retry against another replica")
            self._queue.put((job, future))
        return future

    def run(self, job: Callable[[Connection], T]) -> T:
        """Submits a job and waits until it is committed (or failed)."""
        return self.submit(job).result()

    def close(self, timeout: float = 30.0) -> None:
        """Stops taking jobs, commits those already queued, and stops the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._wal is not None:
            self._wal.close()

    def _run(self) -> None:
        conn = self._connect()
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            group = [item]
            while len(group) < self._max_group:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                group.append(nxt)
            conn = self._commit_group(conn, group)
        conn.close()

    def _connect(self) -> Connection:
        conn = self._engine.connect().execution_options(**{IMMEDIATE: True})
        if self._wal is not None:
            self._wal.adopt(conn.connection.dbapi_connection)
        return conn

    def _commit_group(self, conn: Connection, group: list[tuple[Job, Future[Any]]]) -> Connection:
        started = time.perf_counter()
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn.begin():
                if len(group) == 1:
                    outcomes.append((True, group[0][0](conn)))
                else:
                    for job, _ in group:
                        outcomes.append(self._run_in_savepoint(conn, job))
        except Exception as exc:
            # A lone job's own error lands here too; in a group, jobs fail in their
            # savepoints, so an error here is the transaction's and hits every job.
            if len(group) > 1:
                log.exception("commit of %d writes failed", len(group))
            for _, future in group:
                future.set_exception(exc)
            if isinstance(exc, DBAPIError) and exc.connection_invalidated:
                conn.close()
                return self._connect()
            return conn
        elapsed = time.perf_counter() - started
        self.stats.commits += 1
        self.stats.jobs += len(group)
        self.stats.commit_seconds += elapsed
        self.stats.largest_group = max(self.stats.largest_group, len(group))
        if self.on_commit is not None:
            try:
                self.on_commit(len(group), elapsed)
            except Exception:
                log.exception("the commit observer failed")  # the writes did not
        for (ok, value), (_, future) in zip(outcomes, group, strict=True):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self._wal is not None:
            self._wal.committed(conn.connection.dbapi_connection)
        return conn

    @staticmethod
    def _run_in_savepoint(conn: Connection, job: Job) -> tuple[bool, Any]:
        savepoint = conn.begin_nested()
        try:
            value = job(conn)
        except Exception as exc:
            savepoint.rollback()
            return False, exc
        savepoint.commit()
        return True, value
