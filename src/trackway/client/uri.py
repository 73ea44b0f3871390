"""Tracking URIs: where the native SDK finds the server.

The SDK speaks gRPC: `grpc://host:port`, `grpcs://host:port` (TLS) or a bare `host:port`.
`http(s)://` URIs belong to the REST gateway, which this SDK does not speak yet.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from trackway.errors import InvalidArgument

TRACKING_URI_ENV = "TRACKWAY_TRACKING_URI"
DEFAULT_TRACKING_URI = "grpc://127.0.0.1:50051"
DEFAULT_PORT = 50051


@dataclass(frozen=True)
class Target:
    """A parsed tracking URI: the gRPC target and whether to use TLS."""

    host: str
    port: int
    tls: bool = False

    @property
    def address(self) -> str:
        """The `host:port` string that gRPC dials (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def uri(self) -> str:
        return f"{'grpcs' if self.tls else 'grpc'}://{self.address}"


def resolve(uri: str | None = None) -> str:
    """The URI to use: the argument, else TRACKWAY_TRACKING_URI, else the local default."""
    return uri or os.environ.get(TRACKING_URI_ENV) or DEFAULT_TRACKING_URI


def parse(uri: str) -> Target:
    """Parses a tracking URI, raising InvalidArgument that says what is supported."""
    text = uri.strip()
    if not text:
        raise InvalidArgument("the tracking URI is empty; use grpc://host:port")
    if "://" not in text:
        text = f"grpc://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        raise InvalidArgument(
            f"tracking URI {uri!r}: the native Trackway SDK only supports grpc:// (and "
            "grpcs://) for now; point it at the server's gRPC port, e.g. grpc://host:50051"
        )
    if scheme not in ("grpc", "grpcs"):
        raise InvalidArgument(
            f"tracking URI {uri!r}: unsupported scheme {parts.scheme!r}; use grpc://host:port"
        )
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise InvalidArgument(f"tracking URI {uri!r}: expected grpc://host:port and nothing more")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"tracking URI {uri!r}: {exc}") from None
    host = parts.hostname
    if not host:
        raise InvalidArgument(f"tracking URI {uri!r} names no host; use grpc://host:port")
    return Target(host=host, port=port or DEFAULT_PORT, tls=scheme == "grpcs")
