"""The relay's spool: writes acknowledged to local clients and not yet to central.

One SQLite database under `--spool-dir`, in WAL mode with `synchronous=FULL`: a write
is fsync'd before its client hears that it is done, so neither `kill -9` nor a power
cut loses an acknowledged write. Every change goes through the store's group-commit
writer, so concurrent clients share their fsyncs.

Tables:
- `entries`: the writes in arrival order (`id` grows for ever), each as the bytes to
  send: a LogStreamBatch for points, params and tags, or the request of a DeleteTag
  or LogInputs. `seq` is the number the forwarder gave a batch on its own LogStream
  to central, NULL until it is sent.
- `writers`: the last batch spooled per local LogStream writer, which a reconnecting
  client resumes after, as it would with central.
- `requests`: request ids of local unary writes, so that a retry is spooled once.
- `rejected`: writes central refused (a deleted run, a changed param), with the
  reason, kept for an operator instead of dropped silently.
- `meta`: the relay's own writer id on central, stable for the spool's life.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from trackway.errors import FailedPrecondition, invalid
from trackway.store import engine as engines
from trackway.store.writer import GroupCommitWriter
from trackway.tracking import limits

FILE_NAME = "spool.db"
LOCK_NAME = "spool.lock"

# What an entry holds: a LogStreamBatch, or the request of one of these unary writes.
BATCH = "batch"
DELETE_TAG = "DeleteTag"
LOG_INPUTS = "LogInputs"

metadata = MetaData()

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("points", Integer, nullable=False),
    Column("seq", Integer, nullable=True),
    Index("ix_entries_seq", "seq"),
    # The forwarder reads on from the last id it sent: ids must never be reused, even
    # after the table was emptied.
    sqlite_autoincrement=True,
)

writers = Table(
    "writers",
    metadata,
    Column("writer_id", String(64), primary_key=True),
    Column("last_seq", Integer, nullable=False),
    Column("updated_ms", Integer, nullable=False),
)

requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("method", String(32), nullable=False),
    Column("created_ms", Integer, nullable=False),
)

rejected = Table(
    "rejected",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("points", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("rejected_ms", Integer, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", Text, nullable=False),
)


@dataclass(frozen=True)
class Entry:
    """A write on its way into the spool."""

    kind: str
    run_id: str
    payload: bytes
    points: int = 0


@dataclass(frozen=True)
class Spooled:
    """A write in the spool, as the forwarder reads it."""

    id: int
    kind: str
    run_id: str
    payload: bytes
    points: int
    seq: int | None


@dataclass(frozen=True)
class Depth:
    """What waits in a spool for central: writes (rows) and the metric points in them."""

    writes: int
    points: int

    def __str__(self) -> str:
        return f"{self.writes} writes ({self.points:,} points)"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Spool:
    """A spool directory, open for one relay process."""

    def __init__(self, path: Path, engine: Engine, lock: IO[bytes]) -> None:
        self.path = path
        self._engine = engine
        self._lock_file = lock
        self._writer = GroupCommitWriter(engine)
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.writer_id = self._writer.run(_relay_writer_id)

    @classmethod
    def open(cls, directory: Path) -> Spool:
        directory.mkdir(parents=True, exist_ok=True)
        lock = _lock(directory)
        path = directory / FILE_NAME
        # FULL: in WAL mode, NORMAL may lose the last commits on power loss, and an
        # acknowledged write must survive that too.
        engine = engines.create(f"sqlite:///{path}", sqlite_synchronous="FULL", pool_size=4)
        metadata.create_all(engine)
        return cls(path, engine, lock)

    def close(self) -> None:
        self._writer.close()
        self._engine.dispose()
        self._lock_file.close()

    def on_append(self, listener: Callable[[], None]) -> None:
        """Calls `listener` (on the writer thread) after each committed append."""
        with self._lock:
            self._listeners.append(listener)

    # Appends, from the local servicer

    def append(self, entry: Entry, method: str, request_id: str = "") -> Future[bool]:
        """Spools a unary write; resolves True once committed, False when `request_id`
        was spooled before (a client's retry)."""

        def job(conn: Connection) -> bool:
            if request_id:
                first = conn.execute(
                    select(requests.c.method).where(requests.c.request_id == request_id)
                ).scalar()
                if first is not None:
                    if first != method:
                        raise invalid(
                            "request_id",
                            f"{request_id!r} was already used for {first}; use a new id for "
                            "each distinct write",
                        )
                    return False
                conn.execute(
                    insert(requests).values(
                        request_id=request_id, method=method, created_ms=_now_ms()
                    )
                )
            _insert(conn, entry)
            return True

        return self._submit(job)

    def append_batch(self, writer_id: str, seq: int, entry: Entry) -> Future[bool]:
        """Spools batch `seq` of a local LogStream writer, with central's rules: True
        once committed, False for a batch spooled before, FAILED_PRECONDITION for a gap."""

        def job(conn: Connection) -> bool:
            last = int(
                conn.execute(
                    select(writers.c.last_seq).where(writers.c.writer_id == writer_id)
                ).scalar()
                or 0
            )
            if seq <= last:
                return False
            if seq != last + 1:
                raise FailedPrecondition(
                    f"batch seq {seq} of writer {writer_id!r} leaves a gap: the last spooled "
                    f"is {last}; resend from {last + 1}",
                    metadata={"seq": str(seq), "last_committed_seq": str(last)},
                )
            _insert(conn, entry)
            now = _now_ms()
            if last:
                conn.execute(
                    update(writers)
                    .where(writers.c.writer_id == writer_id)
                    .values(last_seq=seq, updated_ms=now)
                )
            else:
                conn.execute(
                    insert(writers).values(writer_id=writer_id, last_seq=seq, updated_ms=now)
                )
            return True

        return self._submit(job)

    def last_seq(self, writer_id: str) -> int:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(writers.c.last_seq).where(writers.c.writer_id == writer_id)
            ).scalar()
        return int(found or 0)

    def _submit(self, job: Callable[[Connection], bool]) -> Future[bool]:
        future = self._writer.submit(job)
        future.add_done_callback(self._notify)
        return future

    def _notify(self, future: Future[bool]) -> None:
        if future.exception() is None and future.result():
            with self._lock:
                listeners = list(self._listeners)
            for listener in listeners:
                listener()

    # The forwarder's side

    def read(self, after_id: int, limit: int) -> list[Spooled]:
        """Up to `limit` entries after `after_id`, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(entries).where(entries.c.id > after_id).order_by(entries.c.id).limit(limit)
            ).all()
        return [Spooled(r.id, r.kind, r.run_id, r.payload, r.points, r.seq) for r in rows]

    def number(self, numbered: list[tuple[int, int]]) -> None:
        """Records the seq given to each (entry id, seq) before the batches are sent, so
        that after a restart central's last committed seq says which ones it holds."""

        def job(conn: Connection) -> None:
            conn.execute(
                update(entries)
                .where(entries.c.id == bindparam("entry_id"))
                .values(seq=bindparam("entry_seq")),
                [{"entry_id": i, "entry_seq": s} for i, s in numbered],
            )

        self._writer.run(job)

    def settle(self, through_seq: int) -> int:
        """Deletes the batches central acknowledged (every seq up to `through_seq`)."""

        def job(conn: Connection) -> int:
            return int(
                conn.execute(
                    delete(entries).where(entries.c.seq.is_not(None), entries.c.seq <= through_seq)
                ).rowcount
            )

        return int(self._writer.run(job))

    def reconcile(self, last_committed: int) -> int:
        """After the forwarder (re)opened its stream: central holds every batch numbered up
        to `last_committed` (delete them) and none after (number them again later).
        Returns how many were found committed."""

        def job(conn: Connection) -> int:
            done = conn.execute(
                delete(entries).where(entries.c.seq.is_not(None), entries.c.seq <= last_committed)
            ).rowcount
            conn.execute(update(entries).where(entries.c.seq.is_not(None)).values(seq=None))
            return int(done)

        return int(self._writer.run(job))

    def remove(self, entry_id: int) -> None:
        """Deletes an entry that central acknowledged outside the stream (a unary write)."""
        self._writer.run(lambda conn: conn.execute(delete(entries).where(entries.c.id == entry_id)))

    def reject(self, entry: Spooled, reason: str) -> None:
        """Moves an entry that central refused for good into `rejected`."""

        def job(conn: Connection) -> None:
            conn.execute(
                insert(rejected).values(
                    kind=entry.kind,
                    run_id=entry.run_id,
                    payload=entry.payload,
                    points=entry.points,
                    reason=reason[:2000],
                    rejected_ms=_now_ms(),
                )
            )
            conn.execute(delete(entries).where(entries.c.id == entry.id))

        self._writer.run(job)

    def sweep(self) -> int:
        """Forgets request ids and idle local writers after the windows central keeps."""
        now = _now_ms()

        def job(conn: Connection) -> int:
            gone = conn.execute(
                delete(requests).where(requests.c.created_ms < now - limits.IDEMPOTENCY_WINDOW_MS)
            ).rowcount
            gone += conn.execute(
                delete(writers).where(writers.c.updated_ms < now - limits.WRITER_STATE_TTL_MS)
            ).rowcount
            return int(gone)

        return int(self._writer.run(job))

    # What waits

    def depth(self) -> Depth:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.coalesce(func.sum(entries.c.points), 0))
            ).one()
        return Depth(int(row[0]), int(row[1]))

    def rejected_count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(rejected)).scalar() or 0)


def depth_of(directory: Path) -> Depth:
    """The depth of a spool that another process (a running relay) holds open; a
    missing spool is empty. Reads only."""
    path = directory / FILE_NAME
    if not path.exists():
        return Depth(0, 0)
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        writes, points = conn.execute(
            "SELECT count(*), coalesce(sum(points), 0) FROM entries"
        ).fetchone()
    finally:
        conn.close()
    return Depth(int(writes), int(points))


def _lock(directory: Path) -> IO[bytes]:
    """Holds the spool for this process until it closes the file or dies (even by
    `kill -9`): two relays on one spool would forward its writes twice."""
    lock = (directory / LOCK_NAME).open("ab")
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise OSError(
            f"the spool {directory} is in use by another relay; give each relay its own --spool-dir"
        ) from None
    return lock


def _insert(conn: Connection, entry: Entry) -> None:
    conn.execute(
        insert(entries).values(
            kind=entry.kind, run_id=entry.run_id, payload=entry.payload, points=entry.points
        )
    )


def _relay_writer_id(conn: Connection) -> str:
    found = conn.execute(select(meta.c.value).where(meta.c.key == "writer_id")).scalar()
    if found is None:
        found = f"relay-{uuid.uuid4().hex}"
        conn.execute(insert(meta).values(key="writer_id", value=found))
    return str(found)
