"""Access lines, one per RPC and HTTP request, and the fields JSON log lines add.

An access line goes to the `trackway.access` logger at INFO, so `--log-level WARNING`
silences it. Its text says everything (`GET /health 200 0.4 ms [<request id>]`); under
`--log-format json` its parts are also separate fields: protocol, method, code or
status, duration_ms, request_id.
"""

from __future__ import annotations

import logging
from typing import Any

from trackway.observability import request_ids

ACCESS = logging.getLogger("trackway.access")


def json_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What a JSON log line carries besides time, level, logger and message: the id of
    the request it was written for, and an access line's parts."""
    fields: dict[str, Any] = {}
    # An access line names its request itself: it may be written after the request's
    # context is gone (an RPC the client cancelled ends on gRPC's own thread).
    request_id = getattr(record, "request_id", "") or request_ids.current()
    if request_id:
        fields["request_id"] = request_id
    access = getattr(record, "access", None)
    if isinstance(access, dict):
        fields.update(access)
    return fields


def rpc(method: str, code: str, seconds: float, request_id: str) -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        millis = round(seconds * 1000, 3)
        ACCESS.info(
            "%s %s %.1f ms [%s]",
            method,
            code,
            millis,
            request_id,
            extra={
                "request_id": request_id,
                "access": {
                    "protocol": "grpc",
                    "method": method,
                    "code": code,
                    "duration_ms": millis,
                },
            },
        )


def http(method: str, path: str, status: int, seconds: float, request_id: str) -> None:
    if ACCESS.isEnabledFor(logging.INFO):
        if not path.isprintable():  # no control character may forge or break a log line
            path = repr(path)
        millis = round(seconds * 1000, 3)
        ACCESS.info(
            "%s %s %d %.1f ms [%s]",
            method,
            path,
            status,
            millis,
            request_id,
            extra={
                "request_id": request_id,
                "access": {
                    "protocol": "http",
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": millis,
                },
            },
        )
