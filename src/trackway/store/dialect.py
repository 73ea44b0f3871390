"""The few statements whose SQL differs between the supported databases."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from trackway.tracking.entities import MetricColumns


def _insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"database {conn.dialect.name!r} is not supported")


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Inserts rows, skipping those whose key already exists."""
    if rows:
        conn.execute(_insert(conn, table).on_conflict_do_nothing(), list(rows))


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    updates: Sequence[str],
) -> None:
    """Inserts rows, overwriting `updates` columns of rows whose `keys` already exist."""
    if not rows:
        return
    stmt = _insert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: stmt.excluded[c] for c in updates}
    )
    conn.execute(stmt, list(rows))


def insert_points(conn: Connection, series: Sequence[tuple[int, MetricColumns]]) -> None:
    """Appends the points of several series in bulk.

    This is the hottest loop of the server: rows are zipped lazily in C and handed to
    the driver's executemany (SQLite) or COPY (PostgreSQL) without per-row Python
    objects beyond the tuple. The worker label is one constant per column set; column
    sets without one leave the column out (NULL), since binding a NULL for every row
    costs SQLite's executemany a quarter of its speed. PostgreSQL keeps NaN as a value,
    so it is turned into NULL here to match SQLite, which does that by itself.
    """
    plain = [(sid, c) for sid, c in series if not c.worker]
    labelled = [(sid, c) for sid, c in series if c.worker] if len(plain) < len(series) else []
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        cur = dbapi.cursor()
        if plain:
            cur.executemany(
                "INSERT INTO metrics (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)",
                chain.from_iterable(
                    zip(repeat(sid), c.steps, c.timestamps, c.values) for sid, c in plain
                ),
            )
        if labelled:
            cur.executemany(
                "INSERT INTO metrics (series_id, step, timestamp, value, worker) "
                "VALUES (?, ?, ?, ?, ?)",
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
