"""Tracking URIs: where the native SDK finds the server.

The SDK speaks gRPC to `grpc://host:port`, `grpcs://host:port` (TLS) or a bare
`host:port`, and the server's HTTP/JSON API (its `/v1/` routes, on the HTTP port) to
`http://host:port` and `https://host:port`, optionally below a path prefix that a
reverse proxy adds (`https://example.com/trackway`); see `trackway.client.http_channel`.
The same variable thus serves the R client, which only speaks HTTP.

Replicas of one server (sharing a database and an object store) are listed with commas,
`grpc://h1:50051,h2:50051`: the channel spreads calls over every one that answers and
moves on when one goes away (see `trackway.client.channel`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from trackway.errors import InvalidArgument

TRACKING_URI_ENV = "TRACKWAY_TRACKING_URI"
DEFAULT_TRACKING_URI = "grpc://127.0.0.1:50051"
DEFAULT_PORT = 50051
# An http(s) URI without a port means what it means to every HTTP client.
_HTTP_PORTS = {"http": 80, "https": 443}


def host_port(host: str, port: int) -> str:
    """`host:port`, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Target:
    """A parsed tracking URI: the server (or the first of several replicas), the other
    replicas, and whether to use TLS."""

    host: str
    port: int
    tls: bool = False
    # Further replicas as (host, port), in the order the URI lists them.
    alternates: tuple[tuple[str, int], ...] = ()
    # True for http(s):// URIs: the HTTP/JSON API instead of gRPC.
    http: bool = False
    # For http(s):// URIs, the path the API's `/v1/` routes sit below ("" or "/prefix").
    base_path: str = ""

    @property
    def address(self) -> str:
        """The first server's `host:port` (IPv6 hosts in brackets): what gRPC dials when
        there is one server."""
        return host_port(self.host, self.port)

    @property
    def servers(self) -> list[tuple[str, int]]:
        return [(self.host, self.port), *self.alternates]

    @property
    def uri(self) -> str:
        listed = ",".join(host_port(h, p) for h, p in self.servers)
        scheme = ("http" if self.http else "grpc") + ("s" if self.tls else "")
        return f"{scheme}://{listed}{self.base_path}"


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
    if scheme in _HTTP_PORTS:
        return _http_target(uri, parts.netloc, parts.path, parts.query or parts.fragment, scheme)
    if scheme not in ("grpc", "grpcs"):
        raise InvalidArgument(
            f"tracking URI {uri!r}: unsupported scheme {parts.scheme!r}; use grpc://host:port "
            "(the gRPC port) or http://host:port (the HTTP port)"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise InvalidArgument(f"tracking URI {uri!r}: expected grpc://host:port and nothing more")
    first, *others = [_server(uri, piece) for piece in parts.netloc.split(",")]
    return Target(host=first[0], port=first[1], tls=scheme == "grpcs", alternates=tuple(others))


def _http_target(uri: str, netloc: str, path: str, extra: str, scheme: str) -> Target:
    if extra:
        raise InvalidArgument(
            f"tracking URI {uri!r}: expected {scheme}://host:port[/prefix], without a query "
            "or fragment"
        )
    prefix = "/" + path.strip("/") if path.strip("/") else ""
    if prefix.endswith("/v1") or "/api/2.0" in prefix:
        raise InvalidArgument(
            f"tracking URI {uri!r}: name the server's root (such as {scheme}://host:5000), "
            "not one of its API paths"
        )
    servers = [_server(uri, piece, _HTTP_PORTS[scheme]) for piece in netloc.split(",")]
    first, *others = servers
    return Target(
        host=first[0],
        port=first[1],
        tls=scheme == "https",
        alternates=tuple(others),
        http=True,
        base_path=prefix,
    )


def _server(uri: str, netloc: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """One `host[:port]` of a URI's comma-separated list."""
    parts = urlsplit(f"//{netloc.strip()}")
    if parts.username is not None:
        raise InvalidArgument(f"tracking URI {uri!r}: expected grpc://host:port and nothing more")
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidArgument(f"tracking URI {uri!r}: {exc}") from None
    host = parts.hostname
    if not host:
        raise InvalidArgument(
            f"tracking URI {uri!r} names no host; use grpc://host:port (or, for replicas, "
            "grpc://host1:port,host2:port)"
        )
    return host, port or default_port
