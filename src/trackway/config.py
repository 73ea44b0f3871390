"""Server settings: every flag has a TRACKWAY_* environment variable of the same name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA = Path("trackway-data")
DEFAULT_HTTP_PORT = 5000


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    grpc_port: int = 50051
    # MLflow's REST API (trackway.rest) on the same host; 0 picks a free port, -1 turns it
    # off. Off for servers built in code (tests start many at once); the CLI's default is
    # DEFAULT_HTTP_PORT.
    http_port: int = -1
    # HTTP hardening (trackway.rest.guards), comma-separated: Host names the HTTP port
    # answers besides localhost, loopback, IP literals and the bound host (DNS rebinding);
    # and other origins that browsers may call it from (CORS). Empty: none.
    allowed_hosts: str = ""
    cors_allowed_origins: str = ""
    backend_store_uri: str = f"sqlite:///{DEFAULT_DATA / 'trackway.db'}"
    artifacts_destination: str = (DEFAULT_DATA / "artifacts").resolve().as_uri()
    s3_endpoint_url: str = ""
    s3_checksums: str = "when_supported"
    workers: int = 1
    threads: int = 64
    max_message_mb: int = 64
    keepalive_seconds: int = 30
    grace_seconds: float = 20.0
    # How often the server fails runs whose lease ran out (CreateRun's lease_seconds); a
    # run is FAILED within its lease plus this after its writer died. 0 turns it off.
    run_lease_sweep_seconds: float = 15.0
    sqlite_synchronous: str = "NORMAL"
    log_format: str = "text"
    log_level: str = "INFO"
    # OpenTelemetry tracing (trackway.observability.tracing): the OTLP/HTTP collector that
    # spans go to, e.g. http://127.0.0.1:4318; empty turns tracing off.
    otlp_endpoint: str = ""
    # Sidecar relay mode (trackway.relay): the central server that spooled writes go
    # to, as grpc://host:port; empty for a normal server with a store of its own.
    forward_to: str = ""
    # Where a relay spools writes until central acknowledges them.
    spool_dir: str = str(DEFAULT_DATA / "spool")
    # Security (trackway.auth.settings): none, token or mtls; with none, a non-loopback
    # host needs insecure_allow_remote. TLS on both ports from PEM files; a client CA
    # makes them require client certificates (mtls maps their CN to a user).
    auth: str = "none"
    insecure_allow_remote: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    tls_client_ca: str = ""
    # A file holding the first admin's token (created there when missing).
    bootstrap_admin_token_file: str = ""


def env_name(flag: str) -> str:
    """`--grpc-port` reads TRACKWAY_GRPC_PORT."""
    return "TRACKWAY_" + flag.lstrip("-").replace("-", "_").upper()


def env_default(flag: str, default: object) -> object:
    value = os.environ.get(env_name(flag))
    if value is None:
        return default
    return type(default)(value) if default is not None else value  # type: ignore[call-arg]
