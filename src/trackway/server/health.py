"""grpc.health.v1 for the server: grpcio's servicer, plus the `List` RPC.

`List` (every service's status in one answer) is in the grpc.health.v1 protos that
grpcio ships, but grpcio's own servicer does not implement it yet, and its generated
base would answer an operator's `grpcurl ... Health/List` with an error.
"""

from __future__ import annotations

import threading
from typing import Any

from grpc_health.v1 import health, health_pb2


class Health(health.HealthServicer):
    def __init__(self) -> None:
        super().__init__(experimental_non_blocking=True)
        self._statuses: dict[str, Any] = {}
        self._statuses_lock = threading.Lock()

    def set(self, service: str, status: Any) -> None:
        with self._statuses_lock:
            self._statuses[service] = status
        super().set(service, status)

    def List(self, request: health_pb2.HealthListRequest, context: Any) -> Any:
        with self._statuses_lock:
            statuses = dict(self._statuses)
        return health_pb2.HealthListResponse(
            statuses={
                name: health_pb2.HealthCheckResponse(status=status)
                for name, status in statuses.items()
            }
        )
