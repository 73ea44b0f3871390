"""SQLite WAL checkpoints off the commit path.

By default SQLite checkpoints inside the commit that takes the WAL past 1,000 pages: that
commit copies the pages into the database file and syncs both files, so about one
log-batch in forty waits several milliseconds longer, which adds up to a third of the
mean commit time. The writer's connection turns that off and this thread, on its own
connection, runs PASSIVE checkpoints while the writer goes on committing. A PASSIVE
checkpoint takes no lock that a reader or the writer waits for.

Durability does not change: a commit is in the WAL before it is acknowledged, whether or
not it has been checkpointed yet.

The WAL file is only rewound to its start by a write that begins after everything in it
was checkpointed. Frames the writer appends while this thread checkpoints are left for
the next round, so under steady traffic that moment may not come and the file would
grow. Past REWIND_PAGES the writer therefore checkpoints once itself, between two of its
transactions, where nothing can be appended meanwhile.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

# Commits between two checkpoints: SQLite's own trigger is 1,000 pages, and a commit of a
# 1,000-point log-batch writes about 25.
COMMITS_PER_CHECKPOINT = 16
# WAL pages (4 KiB each) past which the writer rewinds the file itself.
REWIND_PAGES = 16_384
_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"


class WalCheckpointer:
    """Checkpoints the WAL of one SQLite file for the writer whose commits fill it."""

    def __init__(self, engine: Engine) -> None:
        self._conn: Any = _own_connection(engine)
        self._wake = threading.Event()
        self._stopping = False
        self._commits = 0
        self._rewind_due = False
        self._thread = threading.Thread(target=self._run, name="trackway-wal", daemon=True)
        self._thread.start()

    @staticmethod
    def for_engine(engine: Engine) -> WalCheckpointer | None:
        """A checkpointer when the engine is a SQLite file in WAL mode, else None."""
        if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
            return None
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        return WalCheckpointer(engine) if str(mode).lower() == "wal" else None

    @staticmethod
    def adopt(dbapi_conn: Any) -> None:
        """Stops the writer's own connection from checkpointing in its commits."""
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    def committed(self, dbapi_conn: Any) -> None:
        """Called by the writer after each commit, outside any transaction."""
        if self._rewind_due:
            self._rewind_due = False
            _checkpoint(dbapi_conn)
        self._commits += 1
        if self._commits >= COMMITS_PER_CHECKPOINT:
            self._commits = 0
            self._wake.set()

    def close(self) -> None:
        """Stops the thread after a last checkpoint."""
        self._stopping = True
        self._wake.set()
        self._thread.join(30)
        self._conn.close()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            result = _checkpoint(self._conn)
            if result is not None and result[1] > REWIND_PAGES:
                self._rewind_due = True
            if self._stopping:
                return


def _own_connection(engine: Engine) -> Any:
    """A connection of the engine (with its PRAGMAs) that the pool no longer manages."""
    proxied = engine.raw_connection()
    proxied.detach()
    return proxied.dbapi_connection


def _checkpoint(dbapi_conn: Any) -> tuple[int, int, int] | None:
    """Runs a PASSIVE checkpoint; returns (busy, WAL pages, pages checkpointed)."""
    try:
        row = dbapi_conn.execute(_PASSIVE).fetchone()
    except Exception:
        # A failed checkpoint loses nothing: the frames stay in the WAL for the next one.
        log.exception("WAL checkpoint failed")
        return None
    return (int(row[0]), int(row[1]), int(row[2])) if row else None
