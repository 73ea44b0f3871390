"""The writes a relay answers itself: TrackingService's write RPCs, into the spool.

A write is acknowledged once it is committed to the spool, never after a network
round trip. The handlers are thin, as on central: check and encode (`writes`), spool,
answer. Errors leave through central's ErrorInterceptor (wrapped around these handlers
only), so they look as they would from central. Every other method goes to the proxy.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import grpc

from trackway.gen.tracking.v1 import tracking_service_pb2 as pb
from trackway.relay import writes
from trackway.relay.spool import Entry, Spool
from trackway.server import log_stream
from trackway.server.errors import ErrorInterceptor
from trackway.tracking import limits
from trackway.tracking import validation as check

SERVICE = "trackway.tracking.v1.TrackingService"
# The unary writes a relay spools itself; LogStream too, and every other method is proxied.
WRITES = ("LogMetric", "LogBatch", "LogColumns", "LogParam", "SetTag", "DeleteTag", "LogInputs")


class RelayWrites:
    def __init__(self, spool: Spool) -> None:
        self._spool = spool

    def _spool_unary(self, method: str, entry: Entry, request_id: str) -> None:
        self._spool.append(entry, method, request_id).result()

    def LogMetric(self, request: pb.LogMetricRequest, context: Any) -> pb.LogMetricResponse:
        self._spool_unary("LogMetric", writes.log_metric(request), request.request_id)
        return pb.LogMetricResponse()

    def LogBatch(self, request: pb.LogBatchRequest, context: Any) -> pb.LogBatchResponse:
        self._spool_unary("LogBatch", writes.log_batch(request), request.request_id)
        return pb.LogBatchResponse()

    def LogColumns(self, request: pb.LogColumnsRequest, context: Any) -> pb.LogColumnsResponse:
        self._spool_unary("LogColumns", writes.log_columns(request), request.request_id)
        return pb.LogColumnsResponse()

    def LogParam(self, request: pb.LogParamRequest, context: Any) -> pb.LogParamResponse:
        self._spool_unary("LogParam", writes.log_param(request), request.request_id)
        return pb.LogParamResponse()

    def SetTag(self, request: pb.SetTagRequest, context: Any) -> pb.SetTagResponse:
        self._spool_unary("SetTag", writes.set_tag(request), request.request_id)
        return pb.SetTagResponse()

    def DeleteTag(self, request: pb.DeleteTagRequest, context: Any) -> pb.DeleteTagResponse:
        self._spool_unary("DeleteTag", writes.delete_tag(request), request.request_id)
        return pb.DeleteTagResponse()

    def LogInputs(self, request: pb.LogInputsRequest, context: Any) -> pb.LogInputsResponse:
        self._spool_unary("LogInputs", writes.log_inputs(request), request.request_id)
        return pb.LogInputsResponse()

    def LogStream(
        self, request_iterator: Iterator[pb.LogStreamRequest], context: Any
    ) -> Iterator[pb.LogStreamResponse]:
        """Central's LogStream contract, with the spool as the store: the writer's last
        spooled seq on open, an ack per batch once spooled, resends acked again."""
        return log_stream.serve(
            request_iterator, context, self._open_stream, self._spool_batch, "trackway-relay-stream"
        )

    def _open_stream(self, writer_id: str) -> int:
        check.text("open.writer_id", writer_id, limits.MAX_WRITER_ID_LENGTH, required=True)
        return self._spool.last_seq(writer_id)

    def _spool_batch(self, writer_id: str, batch: pb.LogStreamBatch) -> Future[bool]:
        return self._spool.append_batch(writer_id, batch.seq, writes.stream_batch(batch))


class LocalWrites(grpc.GenericRpcHandler):
    """Serves the write methods of TrackingService, and no other method."""

    def __init__(self, spool: Spool) -> None:
        servicer = RelayWrites(spool)
        self._interceptor = ErrorInterceptor()
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        names = (
            "LogMetric",
            "LogBatch",
            "LogColumns",
            "LogParam",
            "SetTag",
            "DeleteTag",
            "LogInputs",
        )
        for name in names:
            request_type = getattr(pb, f"{name}Request")
            self._handlers[f"/{SERVICE}/{name}"] = grpc.unary_unary_rpc_method_handler(
                getattr(servicer, name),
                request_deserializer=request_type.FromString,
                response_serializer=_serialize,
            )
        self._handlers[f"/{SERVICE}/LogStream"] = grpc.stream_stream_rpc_method_handler(
            servicer.LogStream,
            request_deserializer=pb.LogStreamRequest.FromString,
            response_serializer=_serialize,
        )

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        def lookup(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
            return self._handlers.get(details.method)

        # The relay's server has no server-wide interceptor (it would turn the proxy's
        # pass-through statuses into INTERNAL); the local writes get central's mapping.
        return self._interceptor.intercept_service(lookup, handler_call_details)


def _serialize(message: Any) -> bytes:
    return bytes(message.SerializeToString())
