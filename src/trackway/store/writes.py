"""The one write path of every store: an idempotent job on the group-commit writer.

Each job replays its request id first, so a retried write is answered from its first
attempt. On PostgreSQL several replicas may write at once: a job that the database
aborts for a deadlock or a serialization failure (SQLSTATE 40P01 or 40001) is rolled
back to its savepoint and runs again, up to MAX_ATTEMPTS times, so clients never see
it; a unique-key race with another replica becomes ABORTED, which is safe to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from trackway.errors import Aborted
from trackway.store import idempotency
from trackway.store.writer import GroupCommitWriter

MAX_ATTEMPTS = 5
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _retryable(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES


def idempotent_write(
    writer: GroupCommitWriter,
    method: str,
    request_id: str,
    fn: Callable[[Connection, int], str | None],
) -> str:
    """Runs `fn(conn, now_ms)` as one committed write; returns its result (an id or "")."""

    def job(conn: Connection) -> str:
        prior = idempotency.replay(conn, request_id, method)
        if prior is not None:
            return prior
        now = now_ms()
        result = fn(conn, now) or ""
        idempotency.record(conn, request_id, method, result, now)
        return result

    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return writer.run(job)
        except IntegrityError as exc:
            raise Aborted(
                f"{method} conflicted with a concurrent write ({exc.orig}); retry it"
            ) from exc
        except DBAPIError as exc:
            if not _retryable(exc) or attempt == MAX_ATTEMPTS:
                raise
            time.sleep(0.005 * attempt)
    raise AssertionError("unreachable")
