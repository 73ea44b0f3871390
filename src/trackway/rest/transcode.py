"""HTTP/JSON transcoding of the native gRPC API, served below `/v1/` on the HTTP port.

Routes come from the `google.api.http` rules in the committed descriptor set, so the
paths are the ones the protos document (and the ones Envoy or grpc-gateway would serve).
A request becomes the RPC's request message (transcode_request), which is sent, as
grpc-gateway does it, to the server's own gRPC port over a loopback channel: every
interceptor (errors today, authentication later) and every servicer rule applies to
HTTP exactly as to gRPC, and no business rule is written twice. `authorization` and a
request id (`x-request-id`, generated when missing) travel as metadata; the id is also
echoed in the answer.

The call blocks, so it runs on a worker thread like the MLflow routes' service calls,
together with the JSON work on either side of it, which for a 100,000-point history is
too slow for the event loop. Artifact bytes have their own streaming routes
(http_artifacts), and `/v1/openapi.json` serves the API's OpenAPI document.
"""

from __future__ import annotations

import importlib
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from trackway.rest import openapi, request_body
from trackway.rest.http_artifacts import HttpArtifacts
from trackway.rest.http_rules import Binding, PathTemplate
from trackway.rest.transcode_errors import (
    HttpError,
    bad_request,
    from_rpc_error,
    internal,
    no_route,
    too_large,
    wrong_method,
)
from trackway.rest.transcode_http import (
    Handler,
    HttpRequest,
    Offload,
    Receive,
    Send,
    send_bytes,
    send_error,
)
from trackway.rest.transcode_request import (
    PROTOBUF,
    PROTOBUF_TYPES,
    RequestBuilder,
    media_type,
    response_json,
)

log = logging.getLogger(__name__)

PREFIX = "/v1/"
_MAX_REQUEST_ID = 128


@dataclass(frozen=True)
class Route:
    method: str
    template: PathTemplate
    handler: Handler


class Transcoder:
    """The ASGI handler of `/v1/`: routing, loopback calls, Status errors."""

    def __init__(
        self,
        grpc_target: str,
        offload: Offload,
        *,
        max_message_bytes: int = 64 << 20,
        services: Iterable[str] | None = None,
    ) -> None:
        self._offload = offload
        self._max_body = max_message_bytes
        self.channel = grpc.insecure_channel(
            grpc_target,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
            ],
        )
        self.bindings = transcoded_bindings(services)
        self.routes: list[Route] = [self._rpc_route(b) for b in self.bindings]
        artifacts = HttpArtifacts(self.channel, offload)
        self.routes += [Route(m, PathTemplate.parse(p), h) for m, p, h in artifacts.routes()]
        self.routes.append(Route("GET", PathTemplate.parse(openapi.PATH), self._openapi))

    def _rpc_route(self, binding: Binding) -> Route:
        _import_generated(binding.service)
        method = descriptor_pool.Default().FindMethodByName(f"{binding.service}.{binding.rpc}")
        request_class = GetMessageClass(method.input_type)
        response_class = GetMessageClass(method.output_type)
        builder = RequestBuilder(binding, request_class)
        call = self.channel.unary_unary(
            binding.grpc_path,
            request_serializer=request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )

        def run(request: HttpRequest, body: bytes, protobuf: bool) -> bytes:
            binary = media_type(request.headers.get("content-type")) in PROTOBUF_TYPES
            message = builder.build(request.vars, request.query, body, binary=binary)
            try:
                reply: Message = call(message, metadata=request.metadata)
            except grpc.RpcError as exc:
                raise from_rpc_error(exc) from None
            return reply.SerializeToString() if protobuf else response_json(reply)

        async def handle(request: HttpRequest) -> None:
            body = await self._body(request.receive)
            # Answers are JSON unless the client's Accept header asks for protobuf first.
            protobuf = media_type(request.headers.get("accept")) in PROTOBUF_TYPES
            answer = await self._offload(run, request, body, protobuf)
            media = PROTOBUF.encode() if protobuf else b"application/json"
            await send_bytes(request.send, 200, answer, _echo(request), media)

        return Route(binding.method, binding.template, handle)

    async def _openapi(self, request: HttpRequest) -> None:
        await send_bytes(request.send, 200, await self._offload(openapi.document_bytes))

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        path = path.split("?", 1)[0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id", "")
        if not (0 < len(request_id) <= _MAX_REQUEST_ID and _plain_ascii(request_id)):
            request_id = uuid.uuid4().hex
        try:
            route, found = self._match(method, path)
            raw_query = scope.get("query_string", b"").decode("latin-1")
            query = parse_qsl(raw_query, keep_blank_values=True)
            request = HttpRequest(
                method, path, found, query, headers, _metadata(headers, request_id), receive, send
            )
            await route.handler(request)
        except HttpError as exc:
            await send_error(send, exc, request_id)
        except Exception:
            incident = uuid.uuid4().hex[:12]
            log.exception("unexpected error in %s %s [incident %s]", method, path, incident)
            await send_error(send, internal(incident), request_id)

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        best: tuple[Route, dict[str, str]] | None = None
        allowed: set[str] = set()
        for route in self.routes:
            found = route.template.match(path)
            if found is None:
                continue
            if route.method != method:
                allowed.add(route.method)
                continue
            if best is None or route.template.specificity > best[0].template.specificity:
                best = (route, found)
        if best is not None:
            return best
        if allowed:
            raise wrong_method(method, path, sorted(allowed))
        raise no_route(method, path)

    async def _body(self, receive: Receive) -> bytes:
        return await request_body.read(
            receive, self._max_body, too_large=too_large, gone=bad_request
        )


def transcoded_bindings(services: Iterable[str] | None = None) -> list[Binding]:
    """The http bindings of the API's services in the descriptor set; with `services`,
    of those only (the gRPC server's: a route to a service it lacks could only fail)."""
    found = openapi.api_bindings(openapi.descriptor_files())
    if services is None:
        return found
    wanted = set(services)
    return [b for b in found if b.service in wanted]


def _import_generated(service: str) -> None:
    """Imports the generated module of a service's file, so that its messages are in the
    default pool: `trackway/tracking/v1/x.proto` is `trackway.gen.tracking.v1.x_pb2`."""
    for file in openapi.descriptor_files():
        if any(f"{file.package}.{s.name}" == service for s in file.service):
            dotted = file.name.removeprefix("trackway/").removesuffix(".proto").replace("/", ".")
            importlib.import_module(f"trackway.gen.{dotted}_pb2")
            return
    raise KeyError(f"no file in the descriptor set defines {service}")


def _metadata(headers: dict[str, str], request_id: str) -> list[tuple[str, str]]:
    metadata = [("x-request-id", request_id)]
    auth = headers.get("authorization")
    if auth:
        if not _plain_ascii(auth):
            raise bad_request("the Authorization header must be printable ASCII")
        metadata.append(("authorization", auth))
    return metadata


def _plain_ascii(value: str) -> bool:
    """gRPC metadata values must be printable ASCII."""
    return value.isascii() and value.isprintable()


def _echo(request: HttpRequest) -> list[tuple[bytes, bytes]]:
    return [(b"x-request-id", request.request_id.encode())]
