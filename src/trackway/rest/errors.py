"""The one place where exceptions become MLflow REST errors.

MLflow's clients read `{"error_code": NAME, "message": TEXT}` and look at the HTTP status
only when the body is not JSON. The code is derived from the domain error's ErrorInfo
`reason` (the same field the gRPC interceptor sends), so a rule raises one typed error
and both doors report it. Statuses follow MLflow's server, quirks included:
RESOURCE_ALREADY_EXISTS is 400, and a write that the resource's state forbids (a deleted
run, a write-once param) is INVALID_PARAMETER_VALUE / 400, as MLflow answers it.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.exc import OperationalError

from trackway.errors import TrackwayError
from trackway.rest import jsonio

log = logging.getLogger(__name__)

# ErrorInfo reason -> (MLflow error_code, HTTP status).
_BY_REASON: dict[str, tuple[str, int]] = {
    "INVALID_PARAMETER_VALUE": ("INVALID_PARAMETER_VALUE", 400),
    "RESOURCE_DOES_NOT_EXIST": ("RESOURCE_DOES_NOT_EXIST", 404),
    "RESOURCE_ALREADY_EXISTS": ("RESOURCE_ALREADY_EXISTS", 400),
    "INVALID_STATE": ("INVALID_PARAMETER_VALUE", 400),
    "RESOURCE_CONFLICT": ("RESOURCE_CONFLICT", 409),
    "CHECKSUM_MISMATCH": ("BAD_REQUEST", 400),
    "TEMPORARILY_UNAVAILABLE": ("TEMPORARILY_UNAVAILABLE", 503),
    "INTERNAL_ERROR": ("INTERNAL_ERROR", 500),
}
_INTERNAL = ("INTERNAL_ERROR", 500)


class RestError(Exception):
    """An error that only the REST layer knows: bad JSON, unknown route, unsupported call."""

    def __init__(self, error_code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status
        self.message = message


def endpoint_not_found(method: str, path: str) -> RestError:
    return RestError("ENDPOINT_NOT_FOUND", 404, f"no endpoint {method} {path}")


def body_too_large(limit: int) -> RestError:
    return RestError("BAD_REQUEST", 413, f"the request body is over {limit} bytes")


def malformed(message: str) -> RestError:
    return RestError("MALFORMED_REQUEST", 400, message)


def not_implemented(message: str) -> RestError:
    return RestError("NOT_IMPLEMENTED", 501, message)


def mlflow_code(error: TrackwayError) -> tuple[str, int]:
    """MLflow's error_code and HTTP status for a domain error."""
    return _BY_REASON.get(error.reason, _INTERNAL)


def to_response(exc: BaseException, route: str) -> tuple[int, bytes]:
    """The HTTP status and JSON body for any exception a handler raised."""
    if isinstance(exc, RestError):
        return exc.status, _body(exc.error_code, exc.message)
    if isinstance(exc, TrackwayError):
        code, status = mlflow_code(exc)
        return status, _body(code, exc.message)
    incident = uuid.uuid4().hex[:12]
    if isinstance(exc, OperationalError):
        log.warning("database unavailable in %s [incident %s]: %s", route, incident, exc)
        return 503, _body(
            "TEMPORARILY_UNAVAILABLE",
            f"the database is unavailable; retry shortly (incident {incident})",
        )
    log.error("unexpected error in %s [incident %s]", route, incident, exc_info=exc)
    return 500, _body("INTERNAL_ERROR", f"internal error (incident {incident})")


def _body(code: str, message: str) -> bytes:
    return jsonio.dumps({"error_code": code, "message": message})
