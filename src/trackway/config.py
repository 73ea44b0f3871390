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
    backend_store_uri: str = f"sqlite:///{DEFAULT_DATA / 'trackway.db'}"
    artifacts_destination: str = (DEFAULT_DATA / "artifacts").resolve().as_uri()
    s3_endpoint_url: str = ""
    s3_checksums: str = "when_supported"
    workers: int = 1
    threads: int = 64
    max_message_mb: int = 64
    keepalive_seconds: int = 30
    grace_seconds: float = 20.0
    sqlite_synchronous: str = "NORMAL"
    log_format: str = "text"
    log_level: str = "INFO"


def env_name(flag: str) -> str:
    """`--grpc-port` reads TRACKWAY_GRPC_PORT."""
    return "TRACKWAY_" + flag.lstrip("-").replace("-", "_").upper()


def env_default(flag: str, default: object) -> object:
    value = os.environ.get(env_name(flag))
    if value is None:
        return default
    return type(default)(value) if default is not None else value  # type: ignore[call-arg]
