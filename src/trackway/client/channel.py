"""gRPC channels to a tracking server, with the transport settings training jobs need."""

from __future__ import annotations

import grpc

from trackway.client.uri import Target

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


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


def open_channel(target: Target) -> grpc.Channel:
    if target.tls:
        return grpc.secure_channel(target.address, grpc.ssl_channel_credentials(), options())
    return grpc.insecure_channel(target.address, options())
