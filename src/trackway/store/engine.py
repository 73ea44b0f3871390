"""Engines for the supported databases, with the settings that make them safe to share.

SQLite: WAL so readers never block the writer; `busy_timeout` as a backstop; and
pysqlite's own transaction handling switched off so that SQLAlchemy emits BEGIN itself.
The writer's connections begin with BEGIN IMMEDIATE: a deferred transaction that reads
and then writes gets SQLITE_BUSY at once, without consulting the busy handler.
PostgreSQL goes through psycopg 3.

MySQL-compatible servers (MariaDB 10.5 or newer: the store uses INSERT ... RETURNING) go
through PyMySQL, a pure-Python driver (the `mysql` extra), in READ COMMITTED: InnoDB's
default REPEATABLE READ takes gap locks on inserts, which turns concurrent writers of
one table (several replicas) into deadlocks, and READ COMMITTED is what PostgreSQL
gives. Sessions run in strict SQL mode, so that a too-long value fails rather than
being cut, whatever the server's own default; text is utf8mb4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

from trackway.errors import InvalidArgument

IMMEDIATE = "trackway_begin_immediate"


MYSQL_SQL_MODE = (
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,"
    "NO_ENGINE_SUBSTITUTION"
)


def normalize_url(url: str) -> str:
    """Accepts `postgresql://` and `postgres://` and picks the psycopg 3 driver;
    `mysql://` and `mariadb://` get PyMySQL."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres") and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"{parsed.drivername}+pymysql")
    return parsed.render_as_string(hide_password=False)


def is_mysql_url(url: str) -> bool:
    return make_url(url).get_backend_name() in ("mysql", "mariadb")


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise InvalidArgument(
            "backend store: an in-memory SQLite database cannot be shared by the writer and "
            "readers; give a file, e.g. sqlite:///trackway.db"
        )
    return Path(parsed.database)


def create(url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 8) -> Engine:
    url = normalize_url(url)
    path = sqlite_path(url)
    if path is None and is_mysql_url(url):
        return _create_mysql(url, pool_size)
    if path is None:
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        # Every SQLite connection has its own page cache: handing out the one used last
        # keeps reads on a warm cache instead of warming each pooled connection in turn.
        pool_use_lifo=True,
        connect_args={"check_same_thread": False, "timeout": 30},
    )
    _configure_sqlite(engine, sqlite_synchronous)
    return engine


def _create_mysql(url: str, pool_size: int) -> Engine:
    parsed = make_url(url)
    if "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        # Below the server's default wait_timeout (8 h), after which it drops idle
        # connections; pre-ping catches the rest.
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"SET SESSION sql_mode = '{MYSQL_SQL_MODE}'")
        cur.close()

    return engine


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise InvalidArgument(f"sqlite synchronous mode {synchronous!r} is not one of NORMAL, FULL")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-16384")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        # Straight to the driver: this runs once per transaction, and SQLAlchemy's
        # statement machinery would cost more than SQLite's BEGIN itself.
        driver: Any = conn.connection.driver_connection
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
