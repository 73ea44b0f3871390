"""Request ids: a retried write is answered from the record of the first attempt.

The record is written in the same transaction as the write itself, so a write and its
record commit or vanish together, and a retry never re-applies a committed write.
Looking a request id up is one primary-key read, however large the run.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from trackway.errors import invalid
from trackway.store.schema import idempotency_keys, log_writers


def replay(conn: Connection, request_id: str, method: str) -> str | None:
    """The result of the first attempt of this request, or None when it is new."""
    if not request_id:
        return None
    row = conn.execute(
        select(idempotency_keys.c.method, idempotency_keys.c.result).where(
            idempotency_keys.c.request_id == request_id
        )
    ).first()
    if row is None:
        return None
    if row.method != method:
        raise invalid(
            "request_id",
            f"{request_id!r} was already used for {row.method}; use a new id for each "
            "distinct write",
        )
    return str(row.result)


def record(conn: Connection, request_id: str, method: str, result: str, now_ms: int) -> None:
    if request_id:
        conn.execute(
            insert(idempotency_keys).values(
                request_id=request_id, method=method, result=result, created_time=now_ms
            )
        )


def sweep(conn: Connection, request_cutoff_ms: int, writer_cutoff_ms: int) -> int:
    """Forgets request ids and idle LogStream writers older than their windows."""
    gone = conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_time < request_cutoff_ms)
    ).rowcount
    gone += conn.execute(
        delete(log_writers).where(log_writers.c.updated_time < writer_cutoff_ms)
    ).rowcount
    return int(gone)
