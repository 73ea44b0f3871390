"""One LogStream call: the `open` handshake, batches out, acknowledgements in.

Requests come from a queue that the logger fills, so sending never waits for an ack
(pipelining; gRPC flow control pushes back when the server is behind). A reader thread
takes the responses and reports acks and the stream's end to the logger.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

import grpc

from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as pb_grpc


class StreamSession:
    def __init__(
        self,
        stub: pb_grpc.TrackingServiceStub,
        writer_id: str,
        on_ack: Callable[[StreamSession, int], None],
        on_end: Callable[[StreamSession, grpc.RpcError | None], None],
    ) -> None:
        self._outbox: queue.SimpleQueue[pb.LogStreamRequest | None] = queue.SimpleQueue()
        self._on_ack = on_ack
        self._on_end = on_end
        self.opened = threading.Event()
        self.ended = threading.Event()
        self.last_committed: int | None = None
        self.error: grpc.RpcError | None = None
        self._call = stub.LogStream(self._requests(writer_id))
        self._reader = threading.Thread(target=self._read, name="trackway-acks", daemon=True)
        self._reader.start()

    def _requests(self, writer_id: str) -> Iterator[pb.LogStreamRequest]:
        yield pb.LogStreamRequest(open=pb.LogStreamOpen(writer_id=writer_id))
        while (item := self._outbox.get()) is not None:
            yield item

    def _read(self) -> None:
        error: grpc.RpcError | None = None
        try:
            for reply in self._call:
                if reply.WhichOneof("kind") == "opened":
                    self.last_committed = reply.opened.last_committed_seq
                    self.opened.set()
                else:
                    self._on_ack(self, reply.ack.seq)
        except grpc.RpcError as exc:
            error = exc
        except Exception as exc:  # a bug in a callback must not leave the logger waiting
            error = _LocalError(str(exc))
        self.error = error
        try:
            self._on_end(self, error)
        finally:
            # Only now does the session count as ended: the logger reconnects (and
            # renumbers) after the end's consequences are recorded, never before.
            self.ended.set()
            self.opened.set()
            # Release gRPC's request thread, which may be waiting on the outbox.
            self._outbox.put(None)

    def wait_opened(self, timeout: float) -> int | None:
        """The server's last committed seq for the writer, or None if the stream ended
        or did not open in time."""
        self.opened.wait(timeout)
        return None if self.ended.is_set() else self.last_committed

    def send(self, batch: pb.LogStreamBatch, seq: int, serial: int = 0) -> None:
        """Queues a copy of the batch numbered `seq`; the logger keeps the original.
        (`serial` is for HttpLogSession's request ids; the stream has its seq check.)"""
        request = pb.LogStreamRequest(batch=batch)
        request.batch.seq = seq
        self._outbox.put(request)

    def close(self) -> None:
        """Half-closes: the server acknowledges what it got, then ends the stream."""
        self._outbox.put(None)

    def cancel(self) -> None:
        self._outbox.put(None)
        self._call.cancel()

    def join(self, timeout: float) -> bool:
        self._reader.join(timeout)
        return not self._reader.is_alive()


class _LocalError(grpc.RpcError):
    """A failure on the client's side of the stream, retried like a broken connection."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self._message = message

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return self._message
