"""Builds and runs the gRPC server: `create_server()` for tests, `serve()` for the CLI."""

from __future__ import annotations

import gc
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from trackway.artifacts.repos import open_repository
from trackway.artifacts.service import ArtifactService
from trackway.auth.wiring import Security
from trackway.config import ServerConfig
from trackway.observability.ingest import MeteredTrackingStore
from trackway.observability.wiring import Observability
from trackway.rest import guards
from trackway.rest.app import create_app
from trackway.rest.server import HttpServer
from trackway.server import (
    artifacts_servicer,
    logged_model_servicer,
    reflection,
    registry_servicer,
    shutdown,
    tracking_servicer,
)
from trackway.server.errors import ErrorInterceptor
from trackway.server.health import Health
from trackway.store.logged_model_store import SqlLoggedModelStore
from trackway.store.registry_store import SqlRegistryStore
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking import limits
from trackway.tracking.logged_models import LoggedModelService

log = logging.getLogger(__name__)

SWEEP_SECONDS = 600


def _options(config: ServerConfig) -> list[tuple[str, int]]:
    size = config.max_message_mb * 1024 * 1024
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        # Long-lived training jobs sit idle behind NATs and load balancers: ping them,
        # and let them ping us every 10 s without being told off.
        ("grpc.keepalive_time_ms", config.keepalive_seconds * 1000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.so_reuseport", 1 if config.workers > 1 else 0),
    ]


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _loopback(host: str, port: int) -> str:
    """Where the HTTP/JSON transcoder reaches this server's gRPC port: the host it
    listens on, or the loopback address when that is a wildcard."""
    wildcard = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}
    return _address(wildcard.get(host, host), port)


@dataclass
class RunningServer:
    """A started server and what it owns; `stop()` shuts it down in order."""

    server: grpc.Server
    port: int
    store: SqlTrackingStore
    artifacts: ArtifactService
    health: health.HealthServicer
    service_names: list[str]
    http: HttpServer | None = None
    observability: Observability | None = None
    security: Security | None = None
    _stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def http_port(self) -> int:
        """The bound port of the MLflow REST API, or -1 when it is off."""
        return self.http.port if self.http is not None else -1

    def stop(self, grace: float | None = 5.0) -> None:
        """NOT_SERVING first, then drain in-flight RPCs and HTTP requests, then commit
        queued writes."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.health.enter_graceful_shutdown()
        if self.http is not None:
            self.http.begin_stop()
        self.server.stop(grace).wait()
        if self.http is not None:
            self.http.stop(grace)
        if self.observability is not None:
            self.observability.close()
        if self.security is not None:
            self.security.close()
        self.store.close()

    def wait(self) -> None:
        self.server.wait_for_termination()


def create_server(config: ServerConfig) -> RunningServer:
    repo = open_repository(
        config.artifacts_destination,
        s3_endpoint_url=config.s3_endpoint_url or None,
        s3_checksums=config.s3_checksums,
    )
    store = MeteredTrackingStore.open(
        config.backend_store_uri,
        artifact_root=repo.uri,
        sqlite_synchronous=config.sqlite_synchronous,
    )
    try:
        # Flags that do not go together, or an open server without authentication,
        # stop here, before anything listens.
        security = Security.start(config, store)
    except Exception:
        store.close()
        raise
    artifacts = ArtifactService(store, repo)
    observability = Observability.start(config, store, artifacts)
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="trackway-rpc"),
        # Observing first: it then sees the status codes the ErrorInterceptor sets.
        # Authentication after the ErrorInterceptor, which reports its refusals.
        interceptors=[observability.interceptor, ErrorInterceptor(), *security.interceptors()],
        options=_options(config),
    )
    tracking = security.tracking_service(store)
    tracking_name = tracking_servicer.register(server, tracking)
    artifacts_name = artifacts_servicer.register(server, artifacts)
    logged_models = LoggedModelService(SqlLoggedModelStore.from_tracking(store))
    registry = security.registry_service(
        SqlRegistryStore.from_tracking(store), store, logged_models
    )
    registry_name = registry_servicer.register(server, registry)
    logged_models_name = logged_model_servicer.register(server, logged_models)
    admin_name = security.register(server)
    health_servicer = Health()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [tracking_name, artifacts_name, registry_name, logged_models_name, admin_name]
    names += [health.SERVICE_NAME]
    reflection.enable(server, names)
    try:
        port = security.bind(server, _address(config.host, config.grpc_port))
    except RuntimeError as exc:
        store.close()
        raise OSError(f"cannot listen on {_address(config.host, config.grpc_port)}: {exc}") from exc
    http = None
    if config.http_port >= 0:
        try:
            http = HttpServer(
                # The guards go outermost: a refused request (foreign Host or origin, a
                # form-typed body) reaches nothing else. The observer wraps the
                # authentication gate, so refusals are measured too; `/metrics` is
                # behind the gate.
                guards.protect(
                    observability.http(
                        security.http(
                            observability.metrics_endpoint(
                                create_app(
                                    tracking,
                                    registry,
                                    artifacts,
                                    threads=config.threads,
                                    max_body_bytes=config.max_message_mb << 20,
                                    grpc_target=security.internal_target(server)
                                    or _loopback(config.host, port),
                                    grpc_services=names,
                                    models=logged_models,
                                )
                            ),
                            max_body_bytes=config.max_message_mb << 20,
                            threads=config.threads,
                        ),
                        names,
                    ),
                    config,
                ),
                config.host,
                config.http_port,
                reuse_port=config.workers > 1,
                grace=config.grace_seconds,
                tls=security.http_tls(),
            ).start()
        except (OSError, ValueError):  # ValueError: a bad --allowed-hosts or CORS origin
            server.stop(0)
            store.close()
            raise
    server.start()
    for name in ("", *names):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    running = RunningServer(
        server, port, store, artifacts, health_servicer, names, http, observability, security
    )
    threading.Thread(target=_sweep_forever, args=(running,), daemon=True).start()
    if config.run_lease_sweep_seconds > 0:
        threading.Thread(
            target=_sweep_leases_forever,
            args=(running, config.run_lease_sweep_seconds),
            name="trackway-lease-sweep",
            daemon=True,
        ).start()
    return running


def _sweep_forever(running: RunningServer) -> None:
    while not running._stopped.wait(SWEEP_SECONDS):
        try:
            running.store.sweep(limits.IDEMPOTENCY_WINDOW_MS, limits.WRITER_STATE_TTL_MS)
            running.artifacts.sweep()
        except Exception:
            log.exception("sweep of expired request ids and upload sessions failed")


def _sweep_leases_forever(running: RunningServer, interval: float) -> None:
    """Fails the runs whose writer fell silent past its lease. Every replica sweeps:
    the store's sweep is idempotent, so they never fail or tag a run twice."""
    while not running._stopped.wait(interval):
        try:
            failed = running.store.fail_expired_runs()
        except Exception:
            if not running._stopped.is_set():  # not the store closing under it
                log.exception("sweep of runs whose lease expired failed")
            continue
        if failed:
            log.info("marked %d runs FAILED: their lease expired without a heartbeat", failed)


def serve(config: ServerConfig) -> int:
    """Runs until SIGTERM or SIGINT, then shuts down gracefully; returns the exit code."""
    if config.forward_to:
        from trackway.relay import server as relay  # a sidecar relay has no store of its own

        return relay.serve(config)
    running = create_server(config)
    # Everything allocated at start-up lives as long as the process: keep it out of the
    # collector's way. History reads build 100k-tuple results, and the default threshold
    # would run full collections over the whole heap several times per read.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    log.info(
        "serving gRPC on %s, MLflow REST on %s (store %s, artifacts %s)",
        _address(config.host, running.port),
        _address(config.host, running.http_port) if running.http else "(off)",
        running.store.engine.url.render_as_string(hide_password=True),
        config.artifacts_destination,
    )
    shutdown.wait_for_stop(log, "draining", config.grace_seconds)
    running.stop(config.grace_seconds)
    log.info("stopped")
    return 0
