"""gRPC channels to a tracking server, with the transport settings training jobs need,
and the credentials a secured server asks for.

- TRACKWAY_TOKEN (or TRACKWAY_TRACKING_TOKEN, the R client's name): a bearer token,
  sent as `authorization: Bearer <token>` metadata with every call. It is sent on
  plaintext channels too (a server on localhost, or behind a TLS-terminating proxy);
  use `grpcs://` beyond the local machine.
- `grpcs://` URIs use TLS: TRACKWAY_TLS_CA names a PEM bundle to trust instead of the
  system's (a private CA), and TRACKWAY_TLS_CLIENT_CERT with TRACKWAY_TLS_CLIENT_KEY a
  client certificate for servers that require one (`--auth mtls`).
- Several replicas (`grpc://h1:p1,h2:p2`): gRPC's own resolvers take one name, so the
  hosts are resolved here, once, into an `ipv4:` (or `ipv6:`) address list, and the
  channel balances over it round-robin. A replica that stops (SIGTERM, a lost node)
  drops out of the rotation until it answers again; the calls and streams it had fail
  with UNAVAILABLE, and the retry loop and the background logger send them again,
  which reaches the others (writes carry request ids and sequence numbers, so a write
  that the stopped replica had committed is not applied twice).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import grpc

from trackway.client.uri import Target, host_port
from trackway.errors import InvalidArgument, Unavailable

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
TOKEN_ENVS = ("TRACKWAY_TOKEN", "TRACKWAY_TRACKING_TOKEN")
TLS_CA_ENV = "TRACKWAY_TLS_CA"
TLS_CLIENT_CERT_ENV = "TRACKWAY_TLS_CLIENT_CERT"
TLS_CLIENT_KEY_ENV = "TRACKWAY_TLS_CLIENT_KEY"
ROUND_ROBIN = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})

log = logging.getLogger(__name__)


def options() -> list[tuple[str, int | str]]:
    """Channel options: large messages, and keepalive pings that the server permits
    (it allows one every 10 s), so that idle jobs behind NATs keep their connection."""
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Reconnect quickly after an outage: the logger and the retry loop decide how
        # long to keep trying; the channel should not sit in a long backoff meanwhile.
        ("grpc.initial_reconnect_backoff_ms", 200),
        ("grpc.max_reconnect_backoff_ms", 2_000),
        ("grpc.enable_retries", 1),
    ]


def default_token() -> str:
    """The bearer token from the environment, or ""."""
    for name in TOKEN_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return ""


def tls_credentials() -> grpc.ChannelCredentials:
    """TLS with the CA and client certificate of the environment, if any."""
    cert, key = _pem(TLS_CLIENT_CERT_ENV), _pem(TLS_CLIENT_KEY_ENV)
    if bool(cert) != bool(key):
        raise InvalidArgument(
            f"{TLS_CLIENT_CERT_ENV} and {TLS_CLIENT_KEY_ENV} go together: set both, or neither"
        )
    return grpc.ssl_channel_credentials(
        root_certificates=_pem(TLS_CA_ENV), private_key=key, certificate_chain=cert
    )


def _pem(env: str) -> bytes | None:
    path = os.environ.get(env, "").strip()
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"{env}={path}: {exc.strerror or exc}") from None


def grpc_target(target: Target) -> str:
    """What gRPC dials: `host:port` for one server, an address list for replicas."""
    if not target.alternates:
        return target.address
    v4: list[str] = []
    v6: list[str] = []
    missing = []
    for host, port in target.servers:
        try:
            found = _resolve(host, port)
        except OSError as exc:
            missing.append(f"{host_port(host, port)} ({exc})")
            continue
        for ip in found:
            listed = v6 if ":" in ip else v4
            if host_port(ip, port) not in listed:
                listed.append(host_port(ip, port))
    if not v4 and not v6:
        raise Unavailable(f"tracking URI {target.uri}: no replica resolves: {'; '.join(missing)}")
    if missing:
        log.warning("tracking URI %s: skipping %s", target.uri, "; ".join(missing))
    if v4 and v6:
        raise InvalidArgument(
            f"tracking URI {target.uri} mixes IPv4 and IPv6 replicas; list one family"
        )
    return f"ipv4:{','.join(v4)}" if v4 else f"ipv6:{','.join(v6)}"


def _resolve(host: str, port: int) -> list[str]:
    """The addresses of one replica: an IP as it is; a name's IPv4 addresses, or its IPv6
    ones when it has none (so that `localhost` does not turn into both)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    v4 = [str(info[4][0]) for info in infos if info[0] == socket.AF_INET]
    return v4 or [str(info[4][0]) for info in infos if info[0] == socket.AF_INET6]


def open_channel(target: Target, *, token: str | None = None) -> grpc.Channel:
    """A channel to `target`; `token` (default: from the environment, "" for none) is
    sent with every call. For an http(s):// target, a stand-in that speaks the HTTP/JSON
    API (see `trackway.client.http_channel`)."""
    if target.http:
        from trackway.client.http_channel import HttpChannel

        return cast(grpc.Channel, HttpChannel(target, token=token))
    dialed = grpc_target(target)
    settings = options()
    if target.alternates:
        settings.append(("grpc.service_config", ROUND_ROBIN))
        if target.tls:
            # The certificates name the hosts, not the resolved addresses.
            settings.append(("grpc.default_authority", target.host))
    if target.tls:
        channel = grpc.secure_channel(dialed, tls_credentials(), settings)
    else:
        channel = grpc.insecure_channel(dialed, settings)
    token = default_token() if token is None else token
    if token:
        channel = grpc.intercept_channel(channel, BearerToken(token))
    return channel


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: list[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call, unless the call has one."""

    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = list(details.metadata or ())
        if not any(key == "authorization" for key, _ in metadata):
            metadata.append(("authorization", self._value))
        return _Details(details, metadata)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details), requests)
