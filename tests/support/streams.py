"""A LogStream writer for tests: numbered batches, acks read as they come."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import grpc

from trackway.gen.tracking.v1 import metric_pb2
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc

POINTS_PER_BATCH = 100


def batch(
    run_id: str, seq: int, key: str = "loss", size: int = POINTS_PER_BATCH
) -> pb.LogStreamBatch:
    """Batch `seq` holds steps (seq-1)*size .. seq*size-1, so steps identify batches."""
    first = (seq - 1) * size
    steps = list(range(first, first + size))
    return pb.LogStreamBatch(
        seq=seq,
        run_id=run_id,
        metrics=[
            metric_pb2.MetricColumns(
                key=key,
                steps=steps,
                timestamps=[1000 + s for s in steps],
                values=[s * 0.5 for s in steps],
            )
        ],
    )


class StreamWriter:
    """Sends batches from `first_seq` on; records the last acknowledged sequence number."""

    def __init__(self, channel: grpc.Channel, writer_id: str) -> None:
        self._stub = pb_grpc.TrackingServiceStub(channel)
        self._writer_id = writer_id
        self._outbox: queue.Queue[pb.LogStreamRequest | None] = queue.Queue()
        self.last_acked = 0
        self.opened_at: int | None = None
        self.error: grpc.RpcError | None = None
        self._call = self._stub.LogStream(self._requests())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[pb.LogStreamRequest]:
        yield pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id=self._writer_id))
        while (item := self._outbox.get()) is not None:
            yield item

    def _read(self) -> None:
        try:
            for reply in self._call:
                if reply.WhichOneof("kind") == "opened":
                    self.opened_at = reply.opened.last_committed_seq
                else:
                    self.last_acked = reply.ack.seq
        except grpc.RpcError as exc:
            self.error = exc

    def send(self, item: pb.LogStreamBatch) -> None:
        self._outbox.put(pb.LogStreamRequest(batch=item))

    def finish(self, timeout: float = 30.0) -> None:
        self._outbox.put(None)
        self._reader.join(timeout)

    def cancel(self) -> None:
        self._call.cancel()
        self._reader.join(10)
