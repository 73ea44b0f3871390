"""TLS credentials of the gRPC port, from the PEM files of the flags."""

from __future__ import annotations

from pathlib import Path

import grpc

from trackway.auth.settings import SecuritySettings


def server_credentials(settings: SecuritySettings) -> grpc.ServerCredentials:
    """The gRPC port's TLS; with a client CA, clients must present a certificate it
    signed (the CN then names the user with `--auth mtls`)."""
    key = Path(settings.tls_key).read_bytes()
    chain = Path(settings.tls_cert).read_bytes()
    ca = Path(settings.tls_client_ca).read_bytes() if settings.tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=ca, require_client_auth=ca is not None
    )
