"""The few statements whose SQL differs between the supported databases.

SQLite, PostgreSQL and MySQL-compatible MariaDB (`mysql` or `mariadb`, as SQLAlchemy
names its dialect). MySQL's DOUBLE holds neither NaN nor infinities: NaN is stored as
NULL there, as SQLite does by itself and as the PostgreSQL path does on purpose, and an
infinity as the largest finite double of its sign, which reads back as the infinity
(`bind_float` and `read_float`; `MySQLDouble` does both for SQLAlchemy statements).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain, repeat
from typing import Any

from sqlalchemy import ColumnElement, Table, TypeDecorator, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import Update

from trackway.store import driver
from trackway.store.driver import bind_float, read_float
from trackway.tracking.entities import MetricColumns

MYSQL_NAMES = frozenset({"mysql", "mariadb"})


def is_mysql(conn: Connection) -> bool:
    return conn.dialect.name in MYSQL_NAMES


class MySQLDouble(TypeDecorator[float]):
    """DOUBLE on MySQL, with `bind_float` on the way in and `read_float` on the way out."""

    impl = mysql.DOUBLE
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> float | None:
        return bind_float(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        return read_float(None if value is None else float(value))


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    if name in MYSQL_NAMES:
        return mysql.insert(table)
    raise NotImplementedError(f"database {name!r} is not supported")


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts rows, skipping those whose key already exists."""
    if not rows:
        return
    stmt = _insert(conn, table)
    if is_mysql(conn):
        # Not INSERT IGNORE, which would also turn real errors (a NULL in a NOT NULL
        # column, a missing foreign key) into warnings: a no-op update of a key column.
        first = table.primary_key.columns.values()[0]
        conn.execute(stmt.on_duplicate_key_update({first.name: first}), list(rows))
        return
    conn.execute(stmt.on_conflict_do_nothing(), list(rows))


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    updates: Sequence[str],
) -> None:
    """Inserts rows, overwriting `updates` columns of rows whose `keys` already exist.

    On MySQL any unique key of the table decides what "exists" means; every table that
    takes upserts has `keys` as its only unique key.
    """
    if not rows:
        return
    stmt = _insert(conn, table)
    if is_mysql(conn):
        stmt = stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in updates})
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in updates}
        )
    conn.execute(stmt, list(rows))


def update_returning(
    conn: Connection, stmt: Update, *columns: ColumnElement[Any]
) -> Sequence[Any] | None:
    """`UPDATE ... RETURNING columns` (the values after the update) of at most one row.

    MariaDB has no UPDATE ... RETURNING: there the row is read back after the update, in
    the same transaction, which still holds the update's row lock, so the read sees
    exactly what the update wrote. The statement's WHERE clause must therefore still
    match the row after the update.
    """
    if not is_mysql(conn):
        return conn.execute(stmt.returning(*columns)).first()
    conn.execute(stmt)
    return conn.execute(select(*columns).where(stmt.whereclause)).first()  # type: ignore[arg-type]


def insert_points(conn: Connection, series: Sequence[tuple[int, MetricColumns]]) -> None:
    """Appends the points of several series in bulk.

    This is the hottest loop of the server: rows are zipped in C and handed to multi-row
    INSERTs (SQLite) or COPY (PostgreSQL) without per-row Python objects beyond the
    tuple. The worker label is one constant per column set; column sets without one
    leave the column out (NULL), since binding a NULL for every row costs SQLite a
    quarter of its speed. PostgreSQL keeps NaN as a value,
    so it is turned into NULL here to match SQLite, which does that by itself. MySQL
    gets multi-row INSERTs from its driver's executemany (`driver` maps the values).
    """
    plain = [(sid, c) for sid, c in series if not c.worker]
    labelled = [(sid, c) for sid, c in series if c.worker] if len(plain) < len(series) else []
    if is_mysql(conn):
        _insert_points_mysql(conn, plain, labelled)
        return
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        cur = dbapi.cursor()
        if plain:
            _insert_sqlite(
                cur,
                "series_id, step, timestamp, value",
                4,
                chain.from_iterable(
                    zip(repeat(sid), c.steps, c.timestamps, c.values) for sid, c in plain
                ),
            )
        if labelled:
            _insert_sqlite(
                cur,
                "series_id, step, timestamp, value, worker",
                5,
                chain.from_iterable(
                    zip(repeat(sid), c.steps, c.timestamps, c.values, repeat(c.worker))
                    for sid, c in labelled
                ),
            )
        cur.close()
        return
    with dbapi.cursor() as cur:
        if plain:
            with cur.copy("COPY metrics (series_id, step, timestamp, value) FROM STDIN") as copy:
                for sid, col in plain:
                    for step, ts, value in zip(col.steps, col.timestamps, col.values, strict=True):
                        copy.write_row((sid, step, ts, None if value != value else value))
        if labelled:
            with cur.copy(
                "COPY metrics (series_id, step, timestamp, value, worker) FROM STDIN"
            ) as copy:
                for sid, col in labelled:
                    worker = col.worker
                    for step, ts, value in zip(col.steps, col.timestamps, col.values, strict=True):
                        copy.write_row((sid, step, ts, None if value != value else value, worker))


# Rows per multi-row INSERT on SQLite: 50 x 5 values stays under the 999 bound variables
# of SQLite builds older than 3.32, and a 1,000-point batch splits evenly.
SQLITE_ROWS_PER_INSERT = 50


def _insert_sqlite(cur: Any, columns: str, width: int, rows: Iterable[tuple[Any, ...]]) -> None:
    """Inserts rows into `metrics` SQLITE_ROWS_PER_INSERT at a time, with one statement
    of that many VALUES tuples: a third faster than executemany's statement step per
    row. The rows left over go through executemany."""
    one = "(" + ", ".join("?" * width) + ")"
    head = f"INSERT INTO metrics ({columns}) VALUES "
    flat = tuple(chain.from_iterable(rows))
    chunk = SQLITE_ROWS_PER_INSERT * width
    whole = len(flat) - len(flat) % chunk
    if whole:
        many = head + ", ".join([one] * SQLITE_ROWS_PER_INSERT)
        for start in range(0, whole, chunk):
            cur.execute(many, flat[start : start + chunk])
    if whole < len(flat):
        cur.executemany(head + one, (flat[i : i + width] for i in range(whole, len(flat), width)))


def _insert_points_mysql(
    conn: Connection,
    plain: Sequence[tuple[int, MetricColumns]],
    labelled: Sequence[tuple[int, MetricColumns]],
) -> None:
    if plain:
        driver.executemany(
            conn,
            "INSERT INTO metrics (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)",
            (
                (sid, step, ts, value)
                for sid, col in plain
                for step, ts, value in zip(col.steps, col.timestamps, col.values, strict=True)
            ),
        )
    if labelled:
        driver.executemany(
            conn,
            "INSERT INTO metrics (series_id, step, timestamp, value, worker) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                (sid, step, ts, value, col.worker)
                for sid, col in labelled
                for step, ts, value in zip(col.steps, col.timestamps, col.values, strict=True)
            ),
        )
