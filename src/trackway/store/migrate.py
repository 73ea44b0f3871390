"""Applies the schema migrations, safely when several processes start at once.

Two servers (or a server and `trackway db upgrade`) may start against one database
together. Each takes a lock before it migrates, so exactly one runs the migrations and
the others find the schema current: an advisory lock on PostgreSQL, an exclusive file
lock beside the database file on SQLite.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from trackway.store import engine as engines

_PG_LOCK_KEY = 0x7472_6B77  # "trkw": one advisory lock id for the migrations


def _config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".migrate-lock")
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Brings the schema to the newest revision; a no-op when it is already there."""
    path = engines.sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is not None:
        with _file_lock(path):
            if current_revision(engine) == head_revision():
                return
            with engine.begin() as conn:
                command.upgrade(_config(conn), "head")
        return
    with engine.connect() as lock_conn:
        lock_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        try:
            if current_revision(engine) != head_revision():
                with engine.begin() as conn:
                    command.upgrade(_config(conn), "head")
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            lock_conn.commit()
