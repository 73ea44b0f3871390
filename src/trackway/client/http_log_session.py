"""The background logger's session over HTTP: batches go out as LogBatch calls.

LogStream has no HTTP/JSON form (the protos say so: over HTTP, log with LogBatch and
retry with the same `request_id`). This class keeps StreamSession's interface so the
logger cannot tell the two apart, and keeps exactly-once another way:

- Each batch is sent as LogBatch calls of at most MAX_BATCH_METRICS points, one after
  the other, and acknowledged once every call has succeeded.
- Every call's `request_id` is derived from the writer id, the batch's `serial` (fixed
  for the batch's life, unlike its seq) and the call's place in the batch, so a batch
  resent after a failure is deduplicated by the server, call by call.
- A session knows nothing the server committed before it, so it opens with
  `last_committed` 0: the logger resends every unacknowledged batch, and the request
  ids make that harmless.

A failed call ends the session with its error, as a broken stream does; the logger then
reconnects (UNAVAILABLE and the like) or drops the refused batch, the oldest one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc
from trackway.gen.tracking.v1.metric_pb2 import Metric
from trackway.tracking import limits

CALL_TIMEOUT = 60.0
_Item = tuple[pb.LogStreamBatch, int, int] | None


class HttpLogSession:
    def __init__(
        self,
        stub: pb_grpc.TrackingServiceStub,
        writer_id: str,
        on_ack: Callable[[Any, int], None],
        on_end: Callable[[Any, grpc.RpcError | None], None],
    ) -> None:
        self._stub = stub
        self._writer_id = writer_id
        self._on_ack = on_ack
        self._on_end = on_end
        self._outbox: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.last_committed: int | None = 0
        self.error: grpc.RpcError | None = None
        self.opened.set()
        self._sender = threading.Thread(target=self._send_all, name="trackway-http-log")
        self._sender.daemon = True
        self._sender.start()

    def wait_opened(self, timeout: float) -> int | None:
        return None if self.ended.is_set() else self.last_committed

    def send(self, batch: pb.LogStreamBatch, seq: int, serial: int = 0) -> None:
        self._outbox.put((batch, seq, serial or seq))

    def close(self) -> None:
        self._outbox.put(None)

    def cancel(self) -> None:
        self._cancelled.set()
        self._outbox.put(None)

    def join(self, timeout: float) -> bool:
        self._sender.join(timeout)
        return not self._sender.is_alive()

    def _send_all(self) -> None:
        error: grpc.RpcError | None = None
        try:
            while (item := self._outbox.get()) is not None and not self._cancelled.is_set():
                batch, seq, serial = item
                for request in log_batch_requests(batch, f"{self._writer_id}.{serial}"):
                    if self._cancelled.is_set():
                        return
                    self._stub.LogBatch(request, timeout=CALL_TIMEOUT)
                self._on_ack(self, seq)
        except grpc.RpcError as exc:
            error = exc
        finally:
            self.error = error
            try:
                self._on_end(self, error)
            finally:
                self.ended.set()


def log_batch_requests(batch: pb.LogStreamBatch, key: str) -> Iterator[pb.LogBatchRequest]:
    """The LogBatch calls that carry one stream batch; request ids `<key>.<n>`."""
    step = limits.MAX_BATCH_METRICS
    points = [
        Metric(key=c.key, value=v, timestamp=t, step=s, worker=c.worker)
        for c in batch.metrics
        for s, t, v in zip(c.steps, c.timestamps, c.values, strict=True)
    ]
    count = max(1, -(-len(points) // step))
    for n in range(count):
        request = pb.LogBatchRequest(
            run_id=batch.run_id,
            metrics=points[n * step : (n + 1) * step],
            request_id=f"{key}.{n}",
        )
        if n == 0:
            request.params.extend(batch.params)
            request.tags.extend(batch.tags)
        yield request
