"""Typed domain errors, each bound to one canonical status code.

The service and store layers raise these; the gRPC error interceptor (and later the
REST gateway) is the one place that turns them into wire errors. `reason` is the
machine-readable ErrorInfo reason, which also names MLflow's error code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc

ERROR_DOMAIN = "trackway.dev"


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request: its path and what to fix."""

    field: str
    description: str


@dataclass
class TrackwayError(Exception):
    """Base of every error that the API reports on purpose."""

    message: str
    violations: list[FieldViolation] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)

    code = grpc.StatusCode.INTERNAL
    reason = "INTERNAL_ERROR"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidArgument(TrackwayError):
    """The request is malformed or breaks a documented limit."""

    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_PARAMETER_VALUE"


class NotFound(TrackwayError):
    """The named resource does not exist."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "RESOURCE_DOES_NOT_EXIST"


class AlreadyExists(TrackwayError):
    """A resource with the same unique name exists."""

    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "RESOURCE_ALREADY_EXISTS"


class FailedPrecondition(TrackwayError):
    """The resource is in a state that forbids the operation (deleted, write-once)."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "INVALID_STATE"


class Unavailable(TrackwayError):
    """The server cannot take the request now (shutting down); retrying is safe."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "TEMPORARILY_UNAVAILABLE"


def invalid(field_path: str, description: str) -> InvalidArgument:
    """An InvalidArgument about one field, with the message naming it."""
    return InvalidArgument(
        f"{field_path}: {description}", [FieldViolation(field_path, description)]
    )


class Aborted(TrackwayError):
    """A concurrent write conflicted with this one; retrying is safe."""

    code = grpc.StatusCode.ABORTED
    reason = "RESOURCE_CONFLICT"


class DataLoss(TrackwayError):
    """The bytes received are not the bytes the client meant to send."""

    code = grpc.StatusCode.DATA_LOSS
    reason = "CHECKSUM_MISMATCH"
