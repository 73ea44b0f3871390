"""`--forward-to`: the central server a relay forwards to, checked before anything starts."""

from __future__ import annotations

from urllib.parse import urlsplit

from trackway.client.uri import Target

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}


def parse_forward_to(uri: str, own_host: str = "", own_port: int = 0) -> Target:
    """The target of `uri`, which must be grpc://host:port or grpcs://host:port (TLS).

    Raises ValueError with one line that names the flag and what was expected. A
    relay that would forward to its own port is refused: it would loop for ever.
    """
    text = uri.strip()
    expected = "expected grpc://host:port (or grpcs://host:port for TLS)"
    scheme, sep, _ = text.partition("://")
    if not sep or scheme.lower() not in ("grpc", "grpcs"):
        raise ValueError(f"--forward-to {uri!r}: {expected}")
    parts = urlsplit(text)
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"--forward-to {uri!r}: {expected}, with no path or query")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            f"--forward-to {uri!r}: the port is not a number from 1 to 65535"
        ) from None
    host = parts.hostname
    if not host:
        raise ValueError(f"--forward-to {uri!r}: no host; {expected}")
    if not port:
        raise ValueError(f"--forward-to {uri!r}: no port; {expected}")
    own = {own_host, *_LOOPBACK} if own_host else _LOOPBACK
    if own_port and port == own_port and host in own:
        raise ValueError(
            f"--forward-to {uri!r} is this relay's own gRPC port {own_port}; give the "
            "central server's address"
        )
    return Target(host=host, port=port, tls=scheme.lower() == "grpcs")
