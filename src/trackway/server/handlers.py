"""Rewrapping a gRPC method handler, for the server's interceptors (errors, auth,
observability): each replaces the handler's behavior and keeps its serializers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

Behavior = Callable[..., Any]

# The handler attribute of each call shape, with the factory that makes such a handler.
KINDS: tuple[tuple[str, Callable[..., grpc.RpcMethodHandler]], ...] = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler),
    ("unary_stream", grpc.unary_stream_rpc_method_handler),
    ("stream_unary", grpc.stream_unary_rpc_method_handler),
    ("stream_stream", grpc.stream_stream_rpc_method_handler),
)


def rewrap(
    handler: grpc.RpcMethodHandler, wrap: Callable[[str, Behavior], Behavior]
) -> grpc.RpcMethodHandler:
    """The handler with its behavior replaced by `wrap(kind, behavior)`, where kind is
    the handler attribute that held it (`unary_unary`, `unary_stream`, ...)."""
    for kind, make in KINDS:
        behavior = getattr(handler, kind)
        if behavior is not None:
            return make(
                wrap(kind, behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler
