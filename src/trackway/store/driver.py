"""Straight-to-the-driver statements for the hot ingest path.

SQLAlchemy's statement building costs more than the SQLite statement it builds when a
batch touches ten keys; the ingest path therefore writes plain SQL on the connection's
own DBAPI cursor. The SQL is written once, in SQLite's and PostgreSQL's common dialect
with `?` placeholders, and `sql` translates it for the connection:

- PostgreSQL (psycopg) and MySQL (PyMySQL) get `%s` placeholders;
- MySQL also gets the `key` column quoted (KEY is a reserved word there) and
  `INSERT ... ON CONFLICT (...) DO UPDATE SET c = excluded.c` as
  `INSERT ... ON DUPLICATE KEY UPDATE c = VALUES(c)`. MySQL assigns those columns left
  to right, each seeing the ones before it already updated, so a statement must assign
  a column only after every assignment that reads its old value.

On MySQL, cursors also pass each float parameter through `bind_float` and each float
read through `read_float`: its DOUBLE holds neither NaN nor infinities.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection

_MYSQL_NAMES = frozenset({"mysql", "mariadb"})
_DOUBLE_MAX = sys.float_info.max
_KEY = re.compile(r"(?<![\w`.])key(?![\w`])")
_ON_CONFLICT = re.compile(r"ON CONFLICT\s*\([^)]*\)\s*DO UPDATE SET", re.IGNORECASE)
_EXCLUDED = re.compile(r"\bexcluded\.(\w+)", re.IGNORECASE)


def bind_float(value: float | None) -> float | None:
    """A double as MySQL can store it: NaN becomes NULL (as SQLite stores it, and as the
    PostgreSQL paths write it), an infinity the largest finite double of its sign."""
    if value is None or value != value:
        return None
    if value in (float("inf"), float("-inf")):
        return _DOUBLE_MAX if value > 0 else -_DOUBLE_MAX
    return value


def read_float(value: float | None) -> float | None:
    """The inverse of `bind_float` for a value read from MySQL. A stored value that
    really was the largest finite double reads as an infinity: the price of the mapping."""
    if value is not None and (value == _DOUBLE_MAX or value == -_DOUBLE_MAX):
        return float("inf") if value > 0 else float("-inf")
    return value


def sql(conn: Connection, text: str) -> str:
    name = conn.dialect.name
    if name == "sqlite":
        return text
    if name in _MYSQL_NAMES:
        return mysql_sql(text)
    return text.replace("?", "%s")


@functools.lru_cache(maxsize=256)
def mysql_sql(text: str) -> str:
    """The MySQL form of one of our statements (see the module docstring)."""
    text = _KEY.sub("`key`", text.replace("?", "%s"))
    if _ON_CONFLICT.search(text):
        text = _ON_CONFLICT.sub("ON DUPLICATE KEY UPDATE", text)
        text = _EXCLUDED.sub(r"VALUES(\1)", text)
    return text


def _bind_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(bind_float(v) if v.__class__ is float else v for v in row)


def _read_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(read_float(v) if v.__class__ is float else v for v in row)


class MySQLCursor:
    """A PyMySQL cursor that translates our SQL and maps floats both ways."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self._raw.execute(mysql_sql(text), _bind_row(params))

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        # PyMySQL turns an INSERT's rows into multi-row statements; it needs a list.
        self._raw.executemany(mysql_sql(text), [_bind_row(r) for r in rows])

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._raw.fetchone()
        return None if row is None else _read_row(row)

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        return [_read_row(r) for r in self._raw.fetchmany(size)]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [_read_row(r) for r in self._raw.fetchall()]

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)

    def close(self) -> None:
        self._raw.close()


def cursor(conn: Connection, *, stream: bool = False) -> Any:
    """A DBAPI cursor of the connection. With `stream`, rows stay on the server until
    fetched (a named cursor on PostgreSQL, an unbuffered one on MySQL, which must then be
    read to the end or closed before the connection runs another statement)."""
    dbapi: Any = conn.connection.dbapi_connection
    name = conn.dialect.name
    if name in _MYSQL_NAMES:
        from pymysql.cursors import Cursor, SSCursor

        return MySQLCursor(dbapi.cursor(SSCursor if stream else Cursor))
    if stream and name == "postgresql":
        return dbapi.cursor(name="trackway_stream")
    return dbapi.cursor()


def fetchall(conn: Connection, text: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    cur = cursor(conn)
    try:
        cur.execute(sql(conn, text), params)
        return list(cur.fetchall())
    finally:
        cur.close()


def fetchone(conn: Connection, text: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    cur = cursor(conn)
    try:
        cur.execute(sql(conn, text), params)
        row = cur.fetchone()
        return None if row is None else tuple(row)
    finally:
        cur.close()


def executemany(conn: Connection, text: str, rows: Iterable[Sequence[Any]]) -> None:
    cur = cursor(conn)
    try:
        cur.executemany(sql(conn, text), rows)
    finally:
        cur.close()
