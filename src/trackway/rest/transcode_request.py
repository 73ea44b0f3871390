"""HTTP request parts to a request message, and a response message to JSON.

A request message is filled from three places, in this order, later ones winning: the
JSON body (all of it for `body: "*"`, or one field), the query string (for the fields
that neither the path nor the body binds), and the path variables. Everything uses the
proto3 JSON mapping (json_format), which accepts each field's JSON name
(`experimentIds`) and its proto name (`experiment_ids`), and rejects unknown fields.

Answers print every field without presence, defaults included (`"nextPageToken": ""`,
`"runs": []`), so that clients in other languages find every key; int64 values are
strings, as the mapping says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from trackway.rest.http_rules import Binding
from trackway.rest.transcode_errors import bad_request

# Bodies and answers may also be protobuf's binary form: far cheaper than JSON for
# big messages (a batch of 10,000 points parses in 0.1 ms instead of 27 ms), for clients
# that have the messages (the Python SDK over http://).
PROTOBUF = "application/x-protobuf"
PROTOBUF_TYPES = frozenset({PROTOBUF, "application/protobuf", "application/vnd.google.protobuf"})

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class RequestBuilder:
    """Builds one RPC's request messages for one of its bindings."""

    def __init__(self, binding: Binding, message_class: type[Message]) -> None:
        self._binding = binding
        self._class = message_class
        descriptor: Any = message_class.DESCRIPTOR
        self._descriptor: Descriptor = descriptor
        bound = {v.field_path.split(".")[0] for v in binding.template.variables}
        if binding.body not in ("", "*"):
            bound.add(binding.body)
        # Query parameters may set any field that neither the path nor the body binds.
        self._bound = {_field(descriptor, name).name for name in bound}

    def build(
        self,
        path_vars: dict[str, str],
        query: list[tuple[str, str]],
        body: bytes,
        *,
        binary: bool = False,
    ) -> Any:
        """The request message; with `binary`, the body is the message in protobuf's
        binary form instead of JSON (for routes whose body is the whole request)."""
        message = self._class()
        if binary:
            self._binary_body(message, body)
        else:
            self._body(message, body)
        if query:
            self._query(message, query)
        for field_path, value in path_vars.items():
            nested: dict[str, Any] = {}
            _put(nested, field_path.split("."), value, repeated=False)
            try:
                json_format.ParseDict(nested, message)
            except json_format.ParseError as exc:
                raise bad_request(
                    f"path variable {{{field_path}}}: {exc}", field_path, str(exc)
                ) from None
        return message

    def _body(self, message: Message, body: bytes) -> None:
        binding = self._binding
        if not binding.body:
            if body.strip():
                raise bad_request(
                    f"{binding.method} {binding.template.source} takes no body; "
                    "pass the fields as query parameters"
                )
            return
        if not body.strip():
            return  # an empty body is an empty message: `curl -X POST .../runs/x:restore`
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise bad_request(f"the body is not valid JSON: {exc}") from None
        if binding.body == "*":
            if not isinstance(value, dict):
                raise bad_request(
                    f"the body must be a JSON object (the {self._descriptor.name} message), "
                    f"not {type(value).__name__}"
                )
        else:
            value = {binding.body: value}
        try:
            json_format.ParseDict(value, message)
        except json_format.ParseError as exc:
            raise bad_request(f"body: {exc}") from None

    def _binary_body(self, message: Message, body: bytes) -> None:
        binding = self._binding
        if binding.body != "*":
            raise bad_request(
                f"{binding.method} {binding.template.source} takes "
                + ("no body" if not binding.body else f"only its {binding.body} field as body")
                + f"; send it as JSON, not {PROTOBUF}"
            )
        try:
            message.ParseFromString(body)
        except DecodeError:
            raise bad_request(
                f"the body is not a {self._descriptor.name} in protobuf's binary form "
                f"(Content-Type: {PROTOBUF})"
            ) from None

    def _query(self, message: Message, query: list[tuple[str, str]]) -> None:
        binding = self._binding
        if binding.body == "*":
            raise bad_request(
                f"{binding.method} {binding.template.source} takes every field in its JSON "
                f"body; the query string must be empty (got {query[0][0]!r})"
            )
        nested: dict[str, Any] = {}
        for key, raw in query:
            field, names = self._resolve(key)
            value: Any = raw
            if field.type == FieldDescriptor.TYPE_BOOL:
                if raw.lower() not in _TRUE | _FALSE:
                    raise bad_request(
                        f"query parameter {key}: {raw[:100]!r} is not true or false", key
                    )
                value = raw.lower() in _TRUE
            _put(nested, names, value, repeated=_is_repeated(field))
        try:
            json_format.ParseDict(nested, message)
        except json_format.ParseError as exc:
            raise bad_request(f"query string: {exc}") from None

    def _resolve(self, key: str) -> tuple[FieldDescriptor, list[str]]:
        """The scalar field a query parameter names, by JSON or proto names."""
        descriptor: Descriptor | None = self._descriptor
        names: list[str] = []
        parts = key.split(".")
        field: FieldDescriptor | None = None
        for i, part in enumerate(parts):
            if descriptor is None:
                field = None
                break
            field = _field_or_none(descriptor, part)
            if field is None:
                break
            if i == 0 and field.name in self._bound:
                raise bad_request(
                    f"query parameter {key}: {field.name} is set by the "
                    f"{'body' if field.name == self._binding.body else 'path'}, "
                    "not the query string",
                    key,
                )
            names.append(field.name)
            is_message = field.type == FieldDescriptor.TYPE_MESSAGE
            if i < len(parts) - 1 and (not is_message or _is_repeated(field)):
                field = None
                break
            descriptor = field.message_type if is_message else None
        if field is None:
            free = [f.json_name for f in self._descriptor.fields if f.name not in self._bound]
            known = f"it takes {', '.join(free)}" if free else "it takes none"
            raise bad_request(f"unknown query parameter {key!r}; {known}", key)
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            raise bad_request(
                f"query parameter {key}: a message cannot be a query parameter; "
                "set its fields one by one (`field.subfield=value`)",
                key,
            )
        return field, names


def _is_repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _field_or_none(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    found = descriptor.fields_by_name.get(name)
    if found is not None:
        return found
    return next((f for f in descriptor.fields if f.json_name == name), None)


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor:
    found = _field_or_none(descriptor, name)
    if found is None:
        raise ValueError(f"{descriptor.full_name} has no field {name!r}")
    return found


def _put(nested: dict[str, Any], names: Iterable[str], value: Any, *, repeated: bool) -> None:
    keys = list(names)
    for name in keys[:-1]:
        nested = nested.setdefault(name, {})
    if repeated:
        nested.setdefault(keys[-1], []).append(value)
    else:
        nested[keys[-1]] = value


def response_json(message: Message) -> bytes:
    """The proto3 JSON of an answer, with every field without presence printed."""
    as_dict = json_format.MessageToDict(message, always_print_fields_with_no_presence=True)
    return orjson.dumps(as_dict)


def media_type(header: str | None) -> str:
    """A Content-Type or Accept value's first media type, lower case, without parameters."""
    return (header or "").split(",", 1)[0].split(";", 1)[0].strip().lower()
