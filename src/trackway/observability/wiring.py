"""What `create_server()` plugs in, built from the server's config and parts."""

from __future__ import annotations

from collections.abc import Sequence

from trackway.artifacts.service import ArtifactService
from trackway.config import ServerConfig
from trackway.observability.db_pool import PoolCollector
from trackway.observability.grpc_observer import ObservingInterceptor
from trackway.observability.http_observer import App, HttpObserver, MetricsEndpoint
from trackway.observability.http_routes import RouteLabels
from trackway.observability.ingest import MeteredTrackingStore
from trackway.observability.metrics import Metrics
from trackway.observability.tracing import Tracer
from trackway.store.tracking_store import SqlTrackingStore


class Observability:
    """One server's metrics and tracer, and the pieces that feed them."""

    def __init__(self, metrics: Metrics, tracer: Tracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer
        self.interceptor = ObservingInterceptor(metrics, tracer)

    @classmethod
    def start(
        cls, config: ServerConfig, store: SqlTrackingStore, artifacts: ArtifactService
    ) -> Observability:
        """Hooks the store's writer and pool and the artifact service to new metrics,
        and starts tracing when `config.otlp_endpoint` is set."""
        tracer = Tracer(config.otlp_endpoint) if config.otlp_endpoint else None
        metrics = Metrics()
        metrics.add_collector(PoolCollector(store.engine))
        store.writer.on_commit = metrics.committed
        if isinstance(store, MeteredTrackingStore):
            store.count_points = metrics.ingested
        artifacts.count_uploaded = metrics.uploaded_bytes.inc
        artifacts.count_downloaded = metrics.downloaded_bytes.inc
        return cls(metrics, tracer)

    def http(self, app: App, services: Sequence[str]) -> HttpObserver:
        """The HTTP port's `app` (the authentication gate and all behind it), observed;
        `services` are the gRPC services whose `/v1/` routes it serves."""
        return HttpObserver(app, self.metrics, RouteLabels(services or None), self.tracer)

    def metrics_endpoint(self, app: App) -> MetricsEndpoint:
        """The gateway `app` with `GET /metrics` in front of it."""
        return MetricsEndpoint(app, self.metrics)

    def close(self) -> None:
        """Sends the spans still queued; call after the servers have drained."""
        if self.tracer is not None:
            self.tracer.close()
