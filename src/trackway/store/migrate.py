"""Applies the schema migrations, safely when several processes start at once.

Two servers (or a server and `trackway db upgrade`) may start against one database
together. Each takes a lock before it migrates, so exactly one runs the migrations and
the others find the schema current: an advisory lock on PostgreSQL, a named lock
(GET_LOCK) on MySQL, an exclusive file lock beside the database file on SQLite.

On MySQL a fresh database is first given utf8mb4 text with a binary, no-pad collation,
which every table then inherits: names and keys compare as on SQLite and PostgreSQL
(case and trailing spaces count) rather than by the server's usual case-insensitive
default, under which `Loss` and `loss` would be one metric.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
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
_MYSQL_LOCK_WAIT_SECONDS = 10
# The first that the server has: MariaDB's, MySQL 8's, and the PAD SPACE fallback.
_MYSQL_COLLATIONS = ("utf8mb4_nopad_bin", "utf8mb4_0900_bin", "utf8mb4_bin")


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
    if engine.dialect.name in ("mysql", "mariadb"):
        _upgrade_mysql(engine)
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


def _upgrade_mysql(engine: Engine) -> None:
    # Lock names are global to the server, not per database: the name carries the
    # database's (hashed, since names are limited to 64 characters).
    database = engine.url.database or ""
    name = "trackway-migrate-" + hashlib.sha256(database.encode()).hexdigest()[:32]
    with engine.connect() as lock_conn:
        while True:
            got = lock_conn.execute(
                text("SELECT GET_LOCK(:n, :t)"), {"n": name, "t": _MYSQL_LOCK_WAIT_SECONDS}
            ).scalar()
            if got == 1:
                break
            if got is None:
                raise RuntimeError(f"the database refused the migration lock {name!r}")
            # 0: another process has held it for longer than the wait; wait again.
        try:
            current = current_revision(engine)
            if current != head_revision():
                with engine.begin() as conn:
                    if current is None:
                        _binary_collation(conn)
                    command.upgrade(_config(conn), "head")
        finally:
            lock_conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": name})
            lock_conn.commit()


def _binary_collation(conn: Connection) -> None:
    available = {row[0] for row in conn.execute(text("SHOW COLLATION WHERE Charset = 'utf8mb4'"))}
    collation = next(c for c in _MYSQL_COLLATIONS if c in available)
    conn.execute(text(f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {collation}"))
