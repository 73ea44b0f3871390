"""gRPC errors back into Trackway's typed exceptions.

The server sends a google.rpc.Status with an ErrorInfo (reason, metadata) and, for bad
input, a BadRequest. The client turns every failed call into one of the classes in
`trackway.errors`, so users catch one set of exception types whatever the transport.
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from trackway import errors
from trackway.auth.errors import PermissionDenied, Unauthenticated

_BY_CODE: dict[grpc.StatusCode, type[errors.TrackwayError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.ABORTED: errors.Aborted,
    grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.Unavailable,
    grpc.StatusCode.DATA_LOSS: errors.DataLoss,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
}

# Codes after which the same request (same request_id) may be sent again.
RETRYABLE = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


def code_of(exc: grpc.RpcError) -> grpc.StatusCode:
    method = getattr(exc, "code", None)
    code = method() if callable(method) else None
    return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN


def details_of(exc: grpc.RpcError) -> str:
    method = getattr(exc, "details", None)
    text = method() if callable(method) else None
    return str(text) if text else str(exc)


def from_rpc_error(exc: grpc.RpcError, target: str = "") -> errors.TrackwayError:
    """The typed exception for a failed call, with the server's metadata and violations."""
    code = code_of(exc)
    message = details_of(exc)
    metadata: dict[str, str] = {}
    violations: list[errors.FieldViolation] = []
    status = _status(exc)
    if status is not None:
        message = status.message or message
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                metadata.update(info.metadata)
                metadata.setdefault("reason", info.reason)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations.extend(
                    errors.FieldViolation(v.field, v.description) for v in bad.field_violations
                )
    if code == grpc.StatusCode.UNAVAILABLE and status is None and target:
        message = f"cannot reach the tracking server at {target}: {message}"
    elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
        message = f"the call to {target or 'the tracking server'} timed out: {message}"
    cls = _BY_CODE.get(code, errors.TrackwayError)
    if cls is errors.TrackwayError:
        message = f"{code.name}: {message}"
    metadata.setdefault("grpc_code", code.name)
    return cls(message, violations, metadata)


def _status(exc: grpc.RpcError) -> status_pb2.Status | None:
    if not isinstance(exc, grpc.Call):
        return None
    try:
        return rpc_status.from_call(exc)
    except ValueError:
        return None
