"""Request messages to HTTP requests and HTTP answers to messages, by the protos'
`google.api.http` rules: the client's half of the server's `/v1/` transcoding.

The rules are read from the same committed descriptor set that the server routes by
(`trackway.rest.openapi`), so both sides always agree on every path. A request becomes:

- the path, with each `{field}` variable filled from the message (percent-encoded; a
  `{field=**}` variable keeps its `/`);
- for `body: "*"`, the whole message in protobuf's binary form (the server takes it as
  `application/x-protobuf` beside JSON, and lets the path win): 100 times cheaper than
  JSON for a batch of points, on both sides;
- for a body that is one field, that field as proto3 JSON;
- otherwise every other field that is set, as query parameters (`a.b=v` for nested
  messages, one parameter per item of a repeated field).

Failures come back as a `google.rpc.Status` in JSON, which `status_from_json` turns into
the binary Status that gRPC carries in `grpc-status-details-bin`, so that one error path
(`trackway.client.errors`) serves both transports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from google.protobuf import descriptor_pool, json_format
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import code_pb2, error_details_pb2, status_pb2

from trackway.rest import openapi
from trackway.rest.http_rules import Binding

# Registers ErrorInfo and BadRequest, so that Status details in JSON can be parsed.
_DETAIL_TYPES = (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest)


class MissingPathField(ValueError):
    """A field that the RPC's path needs is empty: no URL can be built for the call."""


PROTOBUF = "application/x-protobuf"
JSON = "application/json"


@dataclass(frozen=True)
class HttpCall:
    method: str
    path: str
    body: bytes | None
    content_type: str = JSON


@cache
def _bindings() -> dict[str, tuple[Binding, ...]]:
    """The HTTP bindings of each RPC (the rule, then its additional_bindings), by gRPC
    method path."""
    found: dict[str, list[Binding]] = {}
    for binding in openapi.api_bindings(openapi.descriptor_files()):
        found.setdefault(binding.grpc_path, []).append(binding)
    return {path: tuple(rules) for path, rules in found.items()}


def bindings(grpc_path: str) -> tuple[Binding, ...]:
    """The RPC's HTTP bindings; none for the streaming RPCs."""
    return _bindings().get(grpc_path, ())


def encode_any(rules: tuple[Binding, ...], message: Message) -> HttpCall:
    """The request by the first binding whose path fields the message sets (an RPC may
    have one path per scope, such as runs/{scope.run_id} and experiments/...)."""
    for rule in rules[:-1]:
        try:
            return encode(rule, message)
        except MissingPathField:
            continue
    return encode(rules[-1], message)


@cache
def response_class(grpc_path: str) -> type[Message]:
    service, _, rpc = grpc_path.strip("/").partition("/")
    method = descriptor_pool.Default().FindMethodByName(f"{service}.{rpc}")
    return GetMessageClass(method.output_type)


def encode(rule: Binding, message: Message) -> HttpCall:
    """The HTTP request for one call of the RPC bound by `rule`."""
    fields = {} if rule.body == "*" else json_format.MessageToDict(message)
    segments: list[str] = []
    spans = {v.start: v for v in rule.template.variables}
    bound: set[str] = set()
    i = 0
    pattern = rule.template.segments
    while i < len(pattern):
        variable = spans.get(i)
        if variable is None:
            segments.append(pattern[i])
            i += 1
            continue
        value = _field_value(message, variable.field_path)
        if not value:
            raise MissingPathField(f"{variable.field_path} is required")
        bound.add(variable.field_path.split(".")[0])
        segments.append(quote(value, safe="/" if variable.end is None else ""))
        i = len(pattern) if variable.end is None else variable.end
    path = "/" + "/".join(segments) + (":" + rule.template.verb if rule.template.verb else "")
    if rule.body == "*":
        return HttpCall(rule.method, path, message.SerializeToString(), PROTOBUF)
    body = None
    if rule.body:
        name = _json_name(message, rule.body)
        body = orjson.dumps(fields.pop(name, {}))
        bound.add(rule.body)
    query = _query(message, fields, bound)
    return HttpCall(rule.method, f"{path}?{urlencode(query)}" if query else path, body)


def decode(grpc_path: str, body: bytes, content_type: str = JSON) -> Message:
    """The RPC's response message from protobuf's binary form or from JSON (as a proxy
    or an older server may answer); fields a newer server adds are skipped."""
    message = response_class(grpc_path)()
    if content_type.split(";", 1)[0].strip().lower() == PROTOBUF:
        message.ParseFromString(body)
    else:
        json_format.Parse(body or b"{}", message, ignore_unknown_fields=True)
    return message


def status_from_json(http_status: int, body: bytes) -> status_pb2.Status:
    """The google.rpc.Status of a failed call; an answer that is not one (a proxy's error
    page, say) becomes a Status with the code HTTP's status maps to."""
    status = status_pb2.Status()
    try:
        json_format.Parse(body, status, ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError):
        status = status_pb2.Status()
    if status.code == code_pb2.OK:
        text = body[:200].decode("utf-8", "replace").strip()
        status = status_pb2.Status(
            code=code_for_http(http_status),
            message=f"HTTP {http_status}" + (f": {text}" if text else ""),
        )
    return status


def code_for_http(http_status: int) -> int:
    """The gRPC code of an HTTP status, as grpc-gateway and Envoy map them."""
    mapped = {
        400: code_pb2.INVALID_ARGUMENT,
        401: code_pb2.UNAUTHENTICATED,
        403: code_pb2.PERMISSION_DENIED,
        404: code_pb2.NOT_FOUND,
        409: code_pb2.ABORTED,
        413: code_pb2.INVALID_ARGUMENT,
        429: code_pb2.UNAVAILABLE,
        502: code_pb2.UNAVAILABLE,
        503: code_pb2.UNAVAILABLE,
        504: code_pb2.DEADLINE_EXCEEDED,
    }
    return mapped.get(http_status, code_pb2.INTERNAL if http_status >= 500 else code_pb2.UNKNOWN)


def _field_value(message: Message, field_path: str) -> str:
    value: Any = message
    for name in field_path.split("."):
        value = getattr(value, name)
    return str(value)


def _json_name(message: Message, name: str) -> str:
    descriptor: Any = message.DESCRIPTOR
    return str(descriptor.fields_by_name[name].json_name)


def _query(message: Message, fields: dict[str, Any], bound: set[str]) -> list[tuple[str, str]]:
    skip = {_json_name(message, name) for name in bound}
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        if key not in skip:
            _flatten(key, value, pairs)
    return pairs


def _flatten(key: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for inner, item in value.items():
            _flatten(f"{key}.{inner}", item, out)
    elif isinstance(value, list):
        for item in value:
            _flatten(key, item, out)
    elif isinstance(value, bool):
        out.append((key, "true" if value else "false"))
    else:
        out.append((key, str(value)))
