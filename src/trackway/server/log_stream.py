"""The LogStream protocol, shared by central's servicer and the sidecar relay.

The first message opens the stream and is answered with the writer's last committed
seq. Every later message is a batch. A reader thread submits the batches while the
response stream acks them in order, each once its commit has finished. At most
STREAM_WINDOW batches wait for their commits; past that the reader stops taking
messages, and gRPC flow control pushes back on the client.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from trackway.errors import TrackwayError, invalid
from trackway.gen.tracking.v1 import tracking_service_pb2 as pb

# Batches a stream may have in flight before its reader stops; this bounds the memory
# one writer can hold.
STREAM_WINDOW = 32

OpenStream = Callable[[str], int]
SubmitBatch = Callable[[str, pb.LogStreamBatch], "Future[bool]"]
_Pending = queue.Queue[tuple[int, "Future[bool]"] | BaseException | None]


def serve(
    requests: Iterator[pb.LogStreamRequest],
    context: Any,
    open_stream: OpenStream,
    submit: SubmitBatch,
    thread_name: str,
) -> Iterator[pb.LogStreamResponse]:
    """Runs one LogStream: `open_stream(writer_id)` gives the last committed seq, and
    `submit(writer_id, batch)` queues a batch, its future saying when it is committed."""
    first = next(requests, None)
    if first is None:
        return
    if first.WhichOneof("kind") != "open":
        raise invalid("open", "the first message of a LogStream must be `open`")
    writer_id = first.open.writer_id
    last = open_stream(writer_id)
    yield pb.LogStreamResponse(opened=pb.LogStreamOpened(last_committed_seq=last))
    pending: _Pending = queue.Queue(STREAM_WINDOW)
    reader = threading.Thread(
        target=_read, args=(requests, writer_id, submit, pending), name=thread_name, daemon=True
    )
    reader.start()
    while (item := pending.get()) is not None:
        if isinstance(item, BaseException):
            if isinstance(item, TrackwayError) or context.is_active():
                raise item
            return
        seq, future = item
        try:
            future.result()
        except TrackwayError as exc:
            exc.metadata.setdefault("seq", str(seq))
            raise
        yield pb.LogStreamResponse(ack=pb.LogStreamAck(seq=seq))


def _read(
    requests: Iterator[pb.LogStreamRequest],
    writer_id: str,
    submit: SubmitBatch,
    pending: _Pending,
) -> None:
    try:
        for request in requests:
            if request.WhichOneof("kind") != "batch":
                raise invalid("open", "`open` may only be the first message of a LogStream")
            batch = request.batch
            try:
                future = submit(writer_id, batch)
            except TrackwayError as exc:
                exc.metadata["seq"] = str(batch.seq)
                raise
            pending.put((batch.seq, future))
    except BaseException as exc:
        pending.put(exc)
    finally:
        pending.put(None)
