"""The `trackway` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from trackway.auth import settings as auth_settings
from trackway.commands import access as access_commands
from trackway.commands import health as health_command
from trackway.commands import register as register_client_commands
from trackway.commands import run as run_command
from trackway.config import DEFAULT_HTTP_PORT, ServerConfig, env_default, env_name
from trackway.observability import logs as observability_logs
from trackway.serving import flags as serving_flags

_DEFAULTS = ServerConfig()


def _flag(parser: argparse.ArgumentParser, flag: str, default: Any, help_text: str) -> None:
    parser.add_argument(
        flag,
        default=env_default(flag, default),
        type=type(default),
        help=f"{help_text} (env {env_name(flag)}; default {default})",
    )


def _server_parser(sub: Any) -> None:
    p = sub.add_parser("server", help="run the tracking server")
    _flag(p, "--host", _DEFAULTS.host, "address to bind")
    _flag(p, "--grpc-port", _DEFAULTS.grpc_port, "gRPC port; 0 picks a free one")
    _flag(
        p,
        "--http-port",
        DEFAULT_HTTP_PORT,
        "port of the MLflow-compatible REST API; 0 picks a free one, -1 turns it off",
    )
    _flag(
        p,
        "--allowed-hosts",
        _DEFAULTS.allowed_hosts,
        "comma-separated Host names the HTTP port answers besides localhost, loopback, IP "
        "addresses and --host (*.example.com: subdomains, *: any); others get 403",
    )
    _flag(
        p,
        "--cors-allowed-origins",
        _DEFAULTS.cors_allowed_origins,
        "comma-separated origins (https://app.example.com) that browsers may call the HTTP "
        "port from; others get no CORS headers and their writes get 403",
    )
    _flag(p, "--backend-store-uri", _DEFAULTS.backend_store_uri, "SQLAlchemy URL of the store")
    _flag(p, "--artifacts-destination", _DEFAULTS.artifacts_destination, "artifact root URI")
    _flag(p, "--s3-endpoint-url", _DEFAULTS.s3_endpoint_url, "endpoint of an S3-compatible store")
    _flag(
        p,
        "--s3-checksums",
        _DEFAULTS.s3_checksums,
        "when_required for S3-compatible stores that reject boto3's default checksums",
    )
    _flag(p, "--workers", _DEFAULTS.workers, "server processes on one port (PostgreSQL or MySQL)")
    _flag(p, "--threads", _DEFAULTS.threads, "RPC threads per process")
    _flag(p, "--max-message-mb", _DEFAULTS.max_message_mb, "largest gRPC message in MiB")
    _flag(p, "--keepalive-seconds", _DEFAULTS.keepalive_seconds, "keepalive ping interval")
    _flag(p, "--grace-seconds", _DEFAULTS.grace_seconds, "drain time on SIGTERM")
    _flag(
        p,
        "--run-lease-sweep-seconds",
        _DEFAULTS.run_lease_sweep_seconds,
        "how often runs whose lease ran out are marked FAILED; 0 turns the sweep off",
    )
    _flag(
        p,
        "--sqlite-synchronous",
        _DEFAULTS.sqlite_synchronous,
        "NORMAL survives a killed process; FULL also survives power loss, at a cost per commit",
    )
    _flag(p, "--log-format", _DEFAULTS.log_format, "text or json")
    _flag(p, "--log-level", _DEFAULTS.log_level, "DEBUG, INFO, WARNING or ERROR")
    _flag(
        p,
        "--otlp-endpoint",
        _DEFAULTS.otlp_endpoint,
        "OTLP/HTTP collector for OpenTelemetry traces, e.g. http://127.0.0.1:4318 (needs "
        "opentelemetry-sdk and opentelemetry-exporter-otlp-proto-http); empty: no tracing",
    )
    _flag(
        p,
        "--forward-to",
        _DEFAULTS.forward_to,
        "relay mode: spool writes locally and forward them to this central server "
        "(grpc://host:port); other calls are proxied to it",
    )
    _flag(p, "--spool-dir", _DEFAULTS.spool_dir, "relay mode: where writes wait for central")
    auth_settings.add_server_flags(p, _flag, _DEFAULTS)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(observability_logs.json_fields(record))  # request id, access fields
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)


def _run_server(args: argparse.Namespace) -> int:
    from trackway.observability import process
    from trackway.server import app, workers

    if args.log_format not in ("text", "json"):
        raise ValueError(f"--log-format must be text or json, not {args.log_format!r}")
    _setup_logging(args.log_format, args.log_level)
    config = ServerConfig(
        **{k: getattr(args, k) for k in ServerConfig.__dataclass_fields__ if hasattr(args, k)}
    )
    # Once, before any worker or relay starts: one line for flags that do not go together.
    auth_settings.SecuritySettings.of(config).check(config.host, relay=bool(config.forward_to))
    with process.serving(config):  # OTLP checked once; --workers share a metrics folder
        if config.workers > 1:
            return workers.serve_processes(config)
        return app.serve(config)


def _db_upgrade(args: argparse.Namespace) -> int:
    from trackway.store import engine, migrate

    eng = engine.create(args.backend_store_uri)
    migrate.upgrade(eng)
    print(f"schema is at revision {migrate.current_revision(eng)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trackway", description="Trackway command line")
    sub = parser.add_subparsers(dest="command", required=True)
    _server_parser(sub)
    db = sub.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    up = db.add_parser("upgrade", help="apply schema migrations")
    _flag(up, "--backend-store-uri", _DEFAULTS.backend_store_uri, "SQLAlchemy URL of the store")
    client_commands = register_client_commands(sub)
    client_commands.update(access_commands.register(sub))  # users, tokens, permissions
    serving_flags.extend(sub)  # models serve --auth, --token-file, --tls-*
    run_command.register(sub)
    health_command.register(sub)
    args = parser.parse_args(argv)
    handlers = {
        "server": _run_server,
        "db": _db_upgrade,
        **client_commands,
        "run": run_command.dispatch,
        "health": health_command.dispatch,
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"trackway: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
