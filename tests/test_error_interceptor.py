"""The ErrorInterceptor turns what a handler raises into a status, on a real gRPC server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import pytest

from trackway.server.errors import ErrorInterceptor


def _not_implemented(request: bytes, context: Any) -> bytes:
    # As grpcio's generated base servicers do for a method nobody implemented.
    context.set_code(grpc.StatusCode.UNIMPLEMENTED)
    raise NotImplementedError("Method not implemented!")


def _broken(request: bytes, context: Any) -> bytes:
    raise RuntimeError("boom")


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    handler = grpc.method_handlers_generic_handler(
        "test.Errors",
        {
            "Missing": grpc.unary_unary_rpc_method_handler(_not_implemented),
            "Broken": grpc.unary_unary_rpc_method_handler(_broken),
        },
    )
    server = grpc.server(ThreadPoolExecutor(max_workers=2), interceptors=[ErrorInterceptor()])
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as opened:
            yield opened
    finally:
        server.stop(0)


def test_an_unimplemented_method_answers_unimplemented(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/test.Errors/Missing")(b"")
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "/test.Errors/Missing" in caught.value.details()


def test_an_unexpected_error_is_internal_with_an_incident(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/test.Errors/Broken")(b"")
    assert caught.value.code() == grpc.StatusCode.INTERNAL
    assert "incident" in caught.value.details()
