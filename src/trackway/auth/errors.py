"""The two errors of authentication, as typed domain errors.

They leave the gRPC door through the ErrorInterceptor like every other TrackwayError
(UNAUTHENTICATED or PERMISSION_DENIED, with an ErrorInfo whose reason says which), and
the HTTP door writes them as 401 and 403 in each route family's error format.
"""

from __future__ import annotations

import grpc

from trackway.errors import TrackwayError


class Unauthenticated(TrackwayError):
    """The call carries no credentials, or ones that are unknown, expired or revoked."""

    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(TrackwayError):
    """The caller is known but may not do this."""

    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


def missing_credentials() -> Unauthenticated:
    return Unauthenticated(
        "this server requires authentication: send `authorization: Bearer <token>` "
        "(create a token with `trackway tokens create`)"
    )


def bad_credentials() -> Unauthenticated:
    # One message whatever the cause (unknown, expired, revoked, malformed): a caller
    # probing tokens learns nothing from the difference.
    return Unauthenticated("the token is not valid: it is unknown, expired or revoked")
