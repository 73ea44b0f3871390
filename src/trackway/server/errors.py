"""The one place where exceptions become gRPC statuses.

Domain errors carry their code; they go out as a google.rpc.Status with an ErrorInfo
(reason, domain, metadata) and, for bad input, a BadRequest. Anything else is a bug
or an outage: the client gets INTERNAL or UNAVAILABLE with a short message and an
incident id, the log gets the traceback, and the client never does.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import OperationalError

from trackway.errors import ERROR_DOMAIN, TrackwayError
from trackway.server import handlers

log = logging.getLogger(__name__)


def to_status(error: TrackwayError) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    details = [_pack(info)]
    if error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        details.append(_pack(bad))
    status = status_pb2.Status(code=error.code.value[0], message=error.message, details=details)
    return rpc_status.to_status(status)


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _unexpected(exc: BaseException, method: str) -> grpc.Status:
    incident = uuid.uuid4().hex[:12]
    if isinstance(exc, OperationalError):
        log.warning("database unavailable in %s [incident %s]: %s", method, incident, exc)
        code, text = code_pb2.UNAVAILABLE, "the database is unavailable; retry shortly"
    else:
        log.exception("unexpected error in %s [incident %s]", method, incident, exc_info=exc)
        code, text = code_pb2.INTERNAL, "internal error"
    info = error_details_pb2.ErrorInfo(
        reason="INTERNAL_ERROR" if code == code_pb2.INTERNAL else "TEMPORARILY_UNAVAILABLE",
        domain=ERROR_DOMAIN,
        metadata={"incident": incident},
    )
    status = status_pb2.Status(
        code=code, message=f"{text} (incident {incident})", details=[_pack(info)]
    )
    return rpc_status.to_status(status)


def _abort(context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
    if isinstance(exc, TrackwayError):
        context.abort_with_status(to_status(exc))
    if not context.is_active():
        # The client cancelled or went away; its stream's end surfaced as an error here.
        context.abort(grpc.StatusCode.CANCELLED, "the call was cancelled")
    if isinstance(exc, NotImplementedError):
        # What grpcio's generated base servicers raise for a method nobody implemented.
        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not implemented")
    context.abort_with_status(_unexpected(exc, method))


class ErrorInterceptor(grpc.ServerInterceptor):
    """Wraps every handler so that its exceptions leave through `_abort`."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap(kind: str, behavior: handlers.Behavior) -> handlers.Behavior:
            streams = kind.endswith("_stream")
            return _streaming(behavior, method) if streams else _unary(behavior, method)

        return handlers.rewrap(handler, wrap)


def _unary(behavior: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable[..., Any]:
    def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request, context)
        except Exception as exc:
            _abort(context, exc, method)
            return None

    return wrapped


def _streaming(
    behavior: Callable[[Any, grpc.ServicerContext], Iterator[Any]], method: str
) -> Callable[..., Iterator[Any]]:
    def wrapped(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from behavior(request, context)
        except Exception as exc:
            _abort(context, exc, method)

    return wrapped
