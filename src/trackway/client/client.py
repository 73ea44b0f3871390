"""TrackwayClient: the low-level Python client, one method per RPC."""

from __future__ import annotations

from types import TracebackType

from trackway.client.artifacts import ArtifactMethods
from trackway.client.base import DEFAULT_TIMEOUT
from trackway.client.config import LoggerConfig
from trackway.client.heartbeat import RunHeartbeats
from trackway.client.logger import BackgroundLogger
from trackway.client.registry import RegistryMethods
from trackway.client.tracking import TrackingMethods


class TrackwayClient(TrackingMethods, RegistryMethods, ArtifactMethods):
    """Talks to a Trackway server over gRPC, with explicit ids.

    `tracking_uri` is `grpc://host:port`, `grpcs://host:port` or `host:port` (default:
    TRACKWAY_TRACKING_URI, else grpc://127.0.0.1:50051). Errors are the typed
    exceptions of `trackway.errors`. Every write carries a fresh request_id, so retries
    (after UNAVAILABLE, for up to `retry_seconds`) never apply a write twice.

    Thread-safe. `logger` is the background logger for high-rate metric logging; its
    points reach the server at `flush()`, `close()` or interpreter exit at the latest.
    `heartbeats` renews the leases of runs created with `lease_seconds`.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retry_seconds: float | None = None,
        logger_config: LoggerConfig | None = None,
    ) -> None:
        super().__init__(tracking_uri, timeout=timeout, retry_seconds=retry_seconds)
        self._logger_config = logger_config
        self._logger: BackgroundLogger | None = None
        self._heartbeats: RunHeartbeats | None = None

    @property
    def logger(self) -> BackgroundLogger:
        """The background logger, started on first use."""
        logger = self._logger
        if logger is None:
            with self._lock:
                if self._logger is None:
                    self._logger = BackgroundLogger(
                        self._tracking,
                        self.target.uri,
                        self._logger_config,
                        http=self.target.http,
                    )
                logger = self._logger
        return logger

    @property
    def heartbeats(self) -> RunHeartbeats:
        """The heartbeat thread's run list, started on first use."""
        found = self._heartbeats
        if found is None:
            with self._lock:
                if self._heartbeats is None:
                    self._heartbeats = RunHeartbeats(self._tracking, self.target.uri)
                found = self._heartbeats
        return found

    def flush(self, timeout: float | None = None) -> None:
        """Waits until the background logger's points are acknowledged."""
        if self._logger is not None:
            self._logger.flush(timeout)

    def close(self, timeout: float | None = None) -> None:
        """Drains the background logger (bounded by `timeout`), then closes the channel."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeats is not None:
            self._heartbeats.close()
        try:
            if self._logger is not None:
                left = self._logger.close(timeout)
                if left:
                    from trackway.errors import Unavailable

                    raise Unavailable(f"{left} logged points were not acknowledged before close")
        finally:
            self._channel.close()

    def __enter__(self) -> TrackwayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TrackwayClient({self.tracking_uri!r})"
