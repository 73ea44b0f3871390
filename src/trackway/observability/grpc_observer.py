"""The gRPC server interceptor that measures, logs and traces every RPC.

It must be the outermost interceptor: it then sees each call's final status code,
including the ones the ErrorInterceptor sets when it turns an exception into a status,
and the CANCELLED of a stream whose client went away. An RPC ends once: where its
handler returns or raises, or else in the termination callback gRPC runs when the call
is over. The callback decides two cases: a response stream abandoned because its
client cancelled (the handler never returns to us), and a request stream that simply
ended, which gRPC also reports when a cancel is on its way; by the callback, gRPC
knows which it was.

Unknown methods are not counted: their names come from clients, and a label that
clients choose has no bound.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import grpc

from trackway.observability import logs, request_ids, tracing
from trackway.observability.metrics import Metrics
from trackway.server import handlers

Behavior = Callable[[Any, grpc.ServicerContext], Any]

# The metric label of each call shape, by handler attribute.
_KIND_LABELS = {
    "unary_unary": "unary",
    "unary_stream": "server_stream",
    "stream_unary": "client_stream",
    "stream_stream": "bidi_stream",
}


class _Meters:
    """One method's label children, resolved once: `.labels()` takes a lock per call."""

    def __init__(self, metrics: Metrics, full_method: str, kind: str) -> None:
        service, _, method = full_method.lstrip("/").rpartition("/")
        self.full_method = full_method
        self.service = service
        self.method = method
        self.kind = kind
        labels = (kind, service, method)
        self.started = metrics.grpc_started.labels(*labels)
        self.seconds = metrics.grpc_seconds.labels(*labels)
        self.received = metrics.grpc_received.labels(*labels)
        self.sent = metrics.grpc_sent.labels(*labels)
        self.in_flight = metrics.grpc_in_flight.labels(service, method)
        self._handled = metrics.grpc_handled
        self._by_code: dict[grpc.StatusCode, Any] = {}

    def handled(self, code: grpc.StatusCode) -> Any:
        child = self._by_code.get(code)
        if child is None:
            child = self._handled.labels(self.kind, self.service, self.method, code.name)
            self._by_code[code] = child
        return child


class _Call:
    """One RPC from its start to its one end."""

    __slots__ = (
        "_deferred",
        "_drained",
        "_ended",
        "_meters",
        "_span",
        "_started",
        "_watched",
        "context",
        "request_id",
    )

    def __init__(
        self, meters: _Meters, context: grpc.ServicerContext, tracer: tracing.Tracer | None
    ) -> None:
        self._meters = meters
        self.context = context
        metadata = context.invocation_metadata() or ()
        sent = next((v for k, v in metadata if k == request_ids.HEADER), None)
        self.request_id = request_ids.accept(sent if isinstance(sent, str) else None)
        # gRPC runs each call in a fresh contextvars.Context, so the id needs no reset.
        request_ids.bind(self.request_id)
        # The first next() returns 0: whoever ends the call first (atomic under the GIL).
        self._ended = itertools.count()
        self._span = None
        if tracer is not None:
            self._span = tracer.start(
                f"{meters.service}/{meters.method}",
                {k: v for k, v in metadata if isinstance(v, str)},
                {
                    "rpc.system": "grpc",
                    "rpc.service": meters.service,
                    "rpc.method": meters.method,
                    "trackway.request_id": self.request_id,
                },
            )
        meters.started.inc()
        meters.in_flight.inc()
        self._started = time.perf_counter()
        self._drained = self._deferred = False
        self._watched = context.add_callback(self._terminated)

    @property
    def sent(self) -> Any:
        return self._meters.sent

    def requests(self, iterator: Iterator[Any]) -> Iterator[Any]:
        received = self._meters.received
        for request in iterator:
            received.inc()
            yield request
        self._drained = True

    def returned(self) -> None:
        code = self.context.code()
        self._stamp()
        if code is None and self._drained and self._watched and self.context.is_active():
            # The request stream ended: a half-close, or a cancel not yet processed.
            self._deferred = True
            return
        if code is None:
            code = grpc.StatusCode.OK if self.context.is_active() else grpc.StatusCode.CANCELLED
        self.end(code)

    def raised(self) -> None:
        # An abort (the ErrorInterceptor's way out) has set the code; an exception that
        # got past it becomes UNKNOWN in gRPC's hands, unless the client has gone.
        code = self.context.code()
        if code is None:
            active = self.context.is_active()
            code = grpc.StatusCode.UNKNOWN if active else grpc.StatusCode.CANCELLED
        self._stamp()
        self.end(code)

    def _stamp(self) -> None:
        """Puts the request id in the trailing metadata, after whatever set it last
        (abort_with_status replaces it with the error's details)."""
        trailing = tuple(self.context.trailing_metadata() or ())
        if not any(key == request_ids.HEADER for key, _ in trailing):
            self.context.set_trailing_metadata((*trailing, (request_ids.HEADER, self.request_id)))

    def _terminated(self) -> None:
        code = self.context.code()
        if code is None:
            finished = self._deferred and not _cancelled_by_client(self.context)
            code = grpc.StatusCode.OK if finished else grpc.StatusCode.CANCELLED
        self.end(code)

    def end(self, code: grpc.StatusCode) -> None:
        if next(self._ended):
            return
        seconds = time.perf_counter() - self._started
        meters = self._meters
        meters.in_flight.dec()
        meters.handled(code).inc()
        meters.seconds.observe(seconds)
        if code is grpc.StatusCode.OK and meters.kind in ("unary", "client_stream"):
            meters.sent.inc()
        if self._span is not None:
            tracing.end_rpc(self._span, code)
        logs.rpc(meters.full_method, code.name, seconds, self.request_id)


def _cancelled_by_client(context: grpc.ServicerContext) -> bool:
    """Whether the client cancelled a call that is over. `is_active()` is False for
    every call by then, so this reads the server context's own record; a gRPC without
    one gets the handler's view of its call."""
    state = getattr(context, "_state", None)
    return getattr(state, "client", None) == "cancelled"


Begin = Callable[[Any, grpc.ServicerContext], tuple[_Call, Any]]


class ObservingInterceptor(grpc.ServerInterceptor):
    def __init__(self, metrics: Metrics, tracer: tracing.Tracer | None = None) -> None:
        self._metrics = metrics
        self._tracer = tracer
        self._meters: dict[str, _Meters] = {}

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap(attribute: str, behavior: Behavior) -> Behavior:
            kind = _KIND_LABELS[attribute]
            begin = partial(self._begin, self._meters_of(method, kind))
            if kind in ("server_stream", "bidi_stream"):
                return _streaming(begin, behavior)
            return _unary(begin, behavior)

        return handlers.rewrap(handler, wrap)

    def _meters_of(self, method: str, kind: str) -> _Meters:
        meters = self._meters.get(method)
        if meters is None:
            # A race here builds the same children twice; both resolve to one series.
            meters = self._meters[method] = _Meters(self._metrics, method, kind)
        return meters

    def _begin(
        self, meters: _Meters, request: Any, context: grpc.ServicerContext
    ) -> tuple[_Call, Any]:
        """Starts the call's record; returns it with the request, or with the request
        stream wrapped to count its messages."""
        call = _Call(meters, context, self._tracer)
        if meters.kind in ("unary", "server_stream"):
            meters.received.inc()
            return call, request
        return call, call.requests(request)


def _unary(begin: Begin, behavior: Behavior) -> Behavior:
    def observed(request: Any, context: grpc.ServicerContext) -> Any:
        call, request = begin(request, context)
        try:
            response = behavior(request, context)
        except BaseException:
            call.raised()
            raise
        call.returned()
        return response

    return observed


def _streaming(begin: Begin, behavior: Behavior) -> Callable[..., Iterator[Any]]:
    def observed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        call, request = begin(request, context)
        sent = call.sent
        try:
            for response in behavior(request, context):
                sent.inc()
                yield response
        except GeneratorExit:
            # Closed unfinished: gRPC gave up on the call, so its client is gone.
            call.end(grpc.StatusCode.CANCELLED)
            raise
        except BaseException:
            call.raised()
            raise
        call.returned()

    return observed
