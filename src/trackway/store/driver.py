"""Straight-to-the-driver statements for the hot ingest path.

SQLAlchemy's statement building costs more than the SQLite statement it builds when a
batch touches ten keys; the ingest path therefore writes plain SQL on the connection's
own DBAPI cursor. Only `?` placeholders are written here; PostgreSQL's psycopg gets them
as `%s`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import Connection


def cursor(conn: Connection) -> Any:
    dbapi: Any = conn.connection.dbapi_connection
    return dbapi.cursor()


def sql(conn: Connection, text: str) -> str:
    return text if conn.dialect.name == "sqlite" else text.replace("?", "%s")


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
