"""Errors of the HTTP/JSON API: gRPC statuses as HTTP statuses with a google.rpc.Status body.

The body is the proto3 JSON of the google.rpc.Status that the gRPC call ended with,
details included (the ErrorInfo and BadRequest that the error interceptor attached), so
an HTTP client sees exactly what a gRPC client sees. Errors found before a call is made
(no route, bad JSON, an unknown field) get the same shape, built here.
"""

from __future__ import annotations

from typing import Any

import grpc
import orjson
from google.protobuf import any_pb2, json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2

from trackway.errors import ERROR_DOMAIN

# The mapping of google/rpc/code.proto and grpc-gateway; anything else is 500.
HTTP_STATUS: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNAUTHENTICATED: 401,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.ABORTED: 409,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.CANCELLED: 499,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DEADLINE_EXCEEDED: 504,
}


class HttpError(Exception):
    """An error to answer with: its HTTP status and google.rpc.Status."""

    def __init__(self, http_status: int, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.http_status = http_status
        self.status = status
        self.headers: list[tuple[bytes, bytes]] = []

    def body(self) -> bytes:
        return status_json(self.status)


def http_status(code: int) -> int:
    return HTTP_STATUS.get(code, 500)


def status_json(status: status_pb2.Status) -> bytes:
    """The JSON body: `code` and `message` always, `details` as `@type`d objects."""
    details: list[dict[str, Any]] = []
    for packed in status.details:
        try:
            details.append(json_format.MessageToDict(packed))
        except (TypeError, KeyError, json_format.Error):
            # A detail type this process does not know: keep it, opaque.
            details.append({"@type": packed.type_url, "value": packed.value.hex()})
    return orjson.dumps({"code": status.code, "message": status.message, "details": details})


def from_rpc_error(error: grpc.RpcError) -> HttpError:
    """The HttpError for a failed loopback call, from its grpc-status-details-bin."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    message = (error.details() if isinstance(error, grpc.Call) else str(error)) or ""
    number = int(code.value[0])
    status = status_pb2.Status(code=number, message=message)
    trailers = error.trailing_metadata() if isinstance(error, grpc.Call) else None
    for key, value in trailers or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            rich = status_pb2.Status.FromString(value)
            if rich.code == number:
                status = rich
            break
    return HttpError(http_status(number), status)


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _error(
    http: int, code: int, reason: str, message: str, field: str = "", description: str = ""
) -> HttpError:
    details = [_pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN))]
    if field:
        violation = error_details_pb2.BadRequest.FieldViolation(
            field=field, description=description or message
        )
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[violation])))
    return HttpError(http, status_pb2.Status(code=code, message=message, details=details))


def bad_request(message: str, field: str = "", description: str = "") -> HttpError:
    """400 INVALID_ARGUMENT for a request the transcoder cannot turn into a message."""
    return _error(400, code_pb2.INVALID_ARGUMENT, "MALFORMED_REQUEST", message, field, description)


def no_route(method: str, path: str) -> HttpError:
    return _error(
        404,
        code_pb2.NOT_FOUND,
        "ENDPOINT_NOT_FOUND",
        f"no endpoint {method} {path[:300]}; see /v1/openapi.json for the routes",
    )


def wrong_method(method: str, path: str, allowed: list[str]) -> HttpError:
    error = _error(
        405,
        code_pb2.UNIMPLEMENTED,
        "METHOD_NOT_ALLOWED",
        f"{path[:300]} does not take {method}; it takes {', '.join(allowed)}",
    )
    error.headers.append((b"allow", ", ".join(allowed).encode()))
    return error


def too_large(limit: int) -> HttpError:
    return _error(
        413,
        code_pb2.RESOURCE_EXHAUSTED,
        "REQUEST_TOO_LARGE",
        f"the request body is over {limit} bytes",
    )


def internal(incident: str) -> HttpError:
    return _error(500, code_pb2.INTERNAL, "INTERNAL_ERROR", f"internal error (incident {incident})")
