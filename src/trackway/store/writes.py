"""The one write path of every store: an idempotent job on the group-commit writer.

Each job replays its request id first, so a retried write is answered from its first
attempt. On PostgreSQL and MySQL several replicas may write at once: a job that the
database aborts for a deadlock or a serialization failure (SQLSTATE 40P01 or 40001;
MySQL errors 1213, deadlock, and 1205, lock wait timeout) runs again, up to
MAX_ATTEMPTS times, so clients never see it; a unique-key race with another replica
becomes ABORTED, which is safe to retry.

On PostgreSQL such an abort is rolled back to the job's savepoint. InnoDB instead rolls
back the whole transaction on a deadlock, savepoints included, so the writer's rollback
to the savepoint fails and the group's every job gets that failure, with the deadlock as
its context: the chain is searched, and each job of the group runs again.
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
_RETRYABLE_MYSQL_ERRORS = frozenset({1213, 1205})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _retryable(exc: DBAPIError) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is short; the bound only guards against a cycle
        if seen is None:
            return False
        orig = seen
        if isinstance(seen, DBAPIError) and seen.orig is not None:
            orig = seen.orig
        if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            return True
        if orig.args and orig.args[0] in _RETRYABLE_MYSQL_ERRORS and _is_mysql_error(orig):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_mysql_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("pymysql")


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
