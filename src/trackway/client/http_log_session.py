"""The background logger's session over HTTP: each batch is one LogColumns call.

LogStream has no HTTP/JSON form; LogColumns is its batch as a unary call (same columns,
same limits, atomic), which the protos name for this. This class keeps StreamSession's
interface so the logger cannot tell the two apart, and keeps exactly-once another way:

- Batches are sent one after the other, each acknowledged once its call succeeded.
- A call's `request_id` is derived from the writer id and the batch's `serial` (fixed
  for the batch's life, unlike its seq), so a batch resent after a failure is not
  applied twice.
- A session knows nothing the server committed before it, so it opens with
  `last_committed` 0: the logger resends every unacknowledged batch, and the request
  ids make that harmless.

A failed call ends the session with its error, as a broken stream does; the logger then
reconnects (UNAVAILABLE and the like) or drops the refused batch, the oldest one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import grpc

from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc

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
                request = columns_request(batch, f"{self._writer_id}.{serial}")
                self._stub.LogColumns(request, timeout=CALL_TIMEOUT)
                self._on_ack(self, seq)
        except grpc.RpcError as exc:
            error = exc
        finally:
            self.error = error
            try:
                self._on_end(self, error)
            finally:
                self.ended.set()


def columns_request(batch: pb.LogStreamBatch, request_id: str) -> pb.LogColumnsRequest:
    return pb.LogColumnsRequest(
        run_id=batch.run_id,
        metrics=batch.metrics,
        params=batch.params,
        tags=batch.tags,
        request_id=request_id,
    )
