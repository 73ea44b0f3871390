"""Every call a relay does not answer itself goes to central, unchanged.

The proxy is a generic handler: requests and responses stay bytes (nothing is parsed,
so new RPCs and services pass through as they are), and the call keeps its metadata
(`authorization` included) and its deadline. Central's status, message and details
(`grpc-status-details-bin`) come back as they are. A central that cannot be reached
gives UNAVAILABLE with a message saying so; clients retry it like any outage.

The shape of a call (unary or streaming on either side) comes from the descriptors of
Trackway's services; a method of the `trackway.` packages that no descriptor here knows
(a newer central's) is passed through as a bidirectional stream, which carries any
shape on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
from google.protobuf import descriptor_pool

API_PREFIX = "/trackway."
# Metadata that belongs to one hop (HTTP/2 and gRPC's own headers), not to the call.
_HOP_KEYS = {"user-agent", "content-type", "te", "host", "connection", "accept-encoding"}
# A deadline further away than this is no deadline (gRPC reports "none" as a huge time).
_NO_DEADLINE = 10**7


@dataclass(frozen=True)
class _Status:
    """A status to pass on with abort_with_status (the grpc.Status interface)."""

    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, str | bytes], ...]


def _shape(method: str) -> tuple[bool, bool]:
    """(client streaming, server streaming) of `/package.Service/Method`."""
    service, _, name = method.lstrip("/").rpartition("/")
    try:
        found = descriptor_pool.Default().FindServiceByName(service).methods_by_name[name]
    except KeyError:
        return True, True
    return bool(found.client_streaming), bool(found.server_streaming)


class Proxy(grpc.GenericRpcHandler):
    """Passes every method of Trackway's API (the `trackway.` packages, whatever their
    version) through to `channel`. Other methods are gRPC's own (health, reflection),
    which the relay answers itself: a version of them that it lacks is UNIMPLEMENTED
    here, as a client such as grpcurl expects, even while central is away."""

    def __init__(self, channel: grpc.Channel, target: str) -> None:
        self._channel = channel
        self._target = target

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = str(handler_call_details.method)
        if not method.startswith(API_PREFIX):
            return None
        client_streaming, server_streaming = _shape(method)
        if not client_streaming and not server_streaming:
            return grpc.unary_unary_rpc_method_handler(self._unary_unary(method))
        if not client_streaming:
            return grpc.unary_stream_rpc_method_handler(self._unary_stream(method))
        if not server_streaming:
            return grpc.stream_unary_rpc_method_handler(self._stream_unary(method))
        return grpc.stream_stream_rpc_method_handler(self._stream_stream(method))

    # One behaviour per shape; each cancels the upstream call when the client goes away.

    def _unary_unary(self, method: str) -> Callable[[bytes, Any], bytes]:
        upstream = self._channel.unary_unary(method)

        def behaviour(request: bytes, context: Any) -> bytes:
            future = upstream.future(request, **_call_options(context))
            context.add_callback(future.cancel)
            try:
                response = future.result()
            except grpc.RpcError as exc:
                self._abort(context, method, exc)
            context.set_trailing_metadata(_passable(future.trailing_metadata()))
            return bytes(response)

        return behaviour

    def _stream_unary(self, method: str) -> Callable[[Iterator[bytes], Any], bytes]:
        upstream = self._channel.stream_unary(method)

        def behaviour(requests: Iterator[bytes], context: Any) -> bytes:
            future = upstream.future(requests, **_call_options(context))
            context.add_callback(future.cancel)
            try:
                response = future.result()
            except grpc.RpcError as exc:
                self._abort(context, method, exc)
            context.set_trailing_metadata(_passable(future.trailing_metadata()))
            return bytes(response)

        return behaviour

    def _unary_stream(self, method: str) -> Callable[[bytes, Any], Iterator[bytes]]:
        upstream = self._channel.unary_stream(method)

        def behaviour(request: bytes, context: Any) -> Iterator[bytes]:
            call = upstream(request, **_call_options(context))
            yield from self._relay_responses(call, context, method)

        return behaviour

    def _stream_stream(self, method: str) -> Callable[[Iterator[bytes], Any], Iterator[bytes]]:
        upstream = self._channel.stream_stream(method)

        def behaviour(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
            call = upstream(requests, **_call_options(context))
            yield from self._relay_responses(call, context, method)

        return behaviour

    def _relay_responses(self, call: Any, context: Any, method: str) -> Iterator[bytes]:
        context.add_callback(call.cancel)
        try:
            yield from call
        except grpc.RpcError as exc:
            self._abort(context, method, exc)
        context.set_trailing_metadata(_passable(call.trailing_metadata()))

    def _abort(self, context: Any, method: str, error: grpc.RpcError) -> NoReturn:
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
        trailing = _passable(error.trailing_metadata() if isinstance(error, grpc.Call) else ())
        carries_status = any(key == "grpc-status-details-bin" for key, _ in trailing)
        # Central's own errors keep their message: it must match the status details that
        # clients decode. A failure to reach central says which relay and what to expect.
        if code == grpc.StatusCode.UNAVAILABLE and not carries_status:
            details = (
                f"the central Trackway server {self._target} is unavailable ({details}); this "
                f"relay spools metric, param and tag writes meanwhile, but {method} needs central"
            )
        context.abort_with_status(_Status(code, details, trailing))
        raise AssertionError("abort_with_status returned")  # it raises to end the call


def _call_options(context: Any) -> dict[str, Any]:
    """The incoming call's metadata and deadline, for the call to central."""
    metadata = tuple(
        (key, value)
        for key, value in context.invocation_metadata()
        if key not in _HOP_KEYS and not key.startswith((":", "grpc-"))
    )
    remaining = context.time_remaining()
    timeout = None if remaining is None or remaining > _NO_DEADLINE else max(remaining, 0.001)
    return {"metadata": metadata, "timeout": timeout}


def _passable(metadata: Any) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata that a server may set (gRPC's own keys are its to write, except
    the status details, which carry central's error)."""
    return tuple(
        (key, value)
        for key, value in (metadata or ())
        if key == "grpc-status-details-bin"
        or (key not in _HOP_KEYS and not key.startswith((":", "grpc-")))
    )
