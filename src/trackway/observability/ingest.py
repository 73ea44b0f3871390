"""Points ingested: the tracking store, counting the metric points each write commits.

Every door (gRPC, the /v1/ transcoder that calls it, MLflow's REST API) writes points
through `log` or `submit_stream_batch`, so counting there sees them all, once per
request or batch rather than per point. A point counts once its write has committed;
a LogStream batch acknowledged as a resend was counted the first time, but a unary
write retried with the same request id counts again (the store answers it from the
first attempt without saying so).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.entities import RunWrites

PointCounter = Callable[[int], None]


def points(writes: RunWrites) -> int:
    return sum(len(column.values) for column in writes.metrics)


class MeteredTrackingStore(SqlTrackingStore):
    """A SqlTrackingStore that tells `count_points` about every committed write."""

    count_points: PointCounter | None = None

    def log(self, method: str, writes: RunWrites, request_id: str = "") -> None:
        super().log(method, writes, request_id)
        count = self.count_points
        if count is not None and writes.metrics and (size := points(writes)):
            count(size)

    def submit_stream_batch(self, writer_id: str, seq: int, writes: RunWrites) -> Future[bool]:
        future = super().submit_stream_batch(writer_id, seq, writes)
        count = self.count_points
        if count is not None and writes.metrics and (size := points(writes)):

            def committed(done: Future[bool]) -> None:
                # Runs on the writer thread as it answers the batch: one call per batch.
                if not done.cancelled() and done.exception() is None and done.result():
                    count(size)

            future.add_done_callback(committed)
        return future
