"""The OpenAPI 3.1 document of the HTTP/JSON API, built from the descriptor set.

Paths come from the `google.api.http` rules (http_rules, as the transcoder routes
them), schemas from the messages with their proto3 JSON names and types (int64 as a
string, enums as their names, FieldMask as a comma-separated string), and descriptions
from the protos' comments, which the committed descriptor set keeps. `make gen` writes
the document to src/trackway/gen/openapi.json (tools/gen_openapi.py); the server builds
the same bytes from the same set and serves them at PATH.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2

from trackway.rest.http_rules import Binding, file_bindings

PATH = "/v1/openapi.json"
# The API's services are those of our own packages; health and reflection are not.
API_PACKAGE = "trackway."
STATUS_SCHEMA = "google.rpc.Status"

FieldProto = descriptor_pb2.FieldDescriptorProto
_SCALARS: dict[int, dict[str, Any]] = {
    FieldProto.TYPE_DOUBLE: {"type": ["number", "string"], "format": "double"},
    FieldProto.TYPE_FLOAT: {"type": ["number", "string"], "format": "float"},
    FieldProto.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_UINT32: {"type": "integer", "format": "uint32"},
    FieldProto.TYPE_FIXED32: {"type": "integer", "format": "uint32"},
    FieldProto.TYPE_INT64: {"type": "string", "format": "int64"},
    FieldProto.TYPE_SINT64: {"type": "string", "format": "int64"},
    FieldProto.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FieldProto.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FieldProto.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FieldProto.TYPE_BOOL: {"type": "boolean"},
    FieldProto.TYPE_STRING: {"type": "string"},
    FieldProto.TYPE_BYTES: {"type": "string", "format": "byte"},
}
# Well-known types whose proto3 JSON form is not an object.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Field paths separated by commas, in lowerCamelCase (`name,status`).",
    },
}
_ARTIFACT_OWNERS = (("runs", "run_id", "run"), ("experiments", "experiment_id", "experiment"))


def load_files(data: bytes) -> list[descriptor_pb2.FileDescriptorProto]:
    return list(descriptor_pb2.FileDescriptorSet.FromString(data).file)


@cache
def descriptor_files() -> tuple[descriptor_pb2.FileDescriptorProto, ...]:
    """The committed descriptor set (with comments) that reflection also serves."""
    data = (resources.files("trackway.gen") / "descriptors.binpb").read_bytes()
    return tuple(load_files(data))


def api_services(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[str]:
    """Every service of the API, in the set's order."""
    return [
        f"{file.package}.{service.name}"
        for file in files
        if file.package.startswith(API_PACKAGE)
        for service in file.service
    ]


def api_bindings(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[Binding]:
    """The http bindings of every service of the API."""
    files = list(files)
    services = set(api_services(files))
    return [b for b in file_bindings(files) if b.service in services]


@cache
def document_bytes() -> bytes:
    return render(descriptor_files())


def comments(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> dict[str, str]:
    """The leading comment of every service, RPC, message, field and enum, by full name
    (`trackway.tracking.v1.TrackingService.LogStream`)."""
    return {name.lstrip("."): text for name, text in _Index(list(files)).comments.items()}


def render(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> bytes:
    """The document as committed: indented JSON, keys in declaration order."""
    text = json.dumps(build(list(files)), indent=2, ensure_ascii=False)
    return (text + "\n").encode()


class _Index:
    """Messages, enums and comments of a descriptor set, by full name."""

    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.messages: dict[str, descriptor_pb2.DescriptorProto] = {}
        self.enums: dict[str, descriptor_pb2.EnumDescriptorProto] = {}
        self.comments: dict[str, str] = {}
        self.services: dict[str, descriptor_pb2.ServiceDescriptorProto] = {}
        self._names: dict[int, str] = {}
        for file in files:
            located = {
                tuple(loc.path): loc.leading_comments for loc in file.source_code_info.location
            }
            prefix = f".{file.package}" if file.package else ""
            for i, message in enumerate(file.message_type):
                self._message(f"{prefix}.{message.name}", message, (4, i), located)
            for i, enum in enumerate(file.enum_type):
                self._enum(f"{prefix}.{enum.name}", enum, (5, i), located)
            for i, service in enumerate(file.service):
                name = f"{prefix}.{service.name}"
                self.services[name.lstrip(".")] = service
                self.comments[name] = _clean(located.get((6, i), ""))
                for j, method in enumerate(service.method):
                    self.comments[f"{name}.{method.name}"] = _clean(located.get((6, i, 2, j), ""))

    def _message(
        self,
        name: str,
        message: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.messages[name] = message
        self._names[id(message)] = name
        self.comments[name] = _clean(located.get(path, ""))
        for j, field in enumerate(message.field):
            self.comments[f"{name}.{field.name}"] = _clean(located.get((*path, 2, j), ""))
        for j, nested in enumerate(message.nested_type):
            self._message(f"{name}.{nested.name}", nested, (*path, 3, j), located)
        for j, enum in enumerate(message.enum_type):
            self._enum(f"{name}.{enum.name}", enum, (*path, 4, j), located)

    def name_of(self, message: descriptor_pb2.DescriptorProto) -> str:
        return self._names[id(message)]

    def _enum(
        self,
        name: str,
        enum: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
        located: dict[tuple[int, ...], str],
    ) -> None:
        self.enums[name] = enum
        self.comments[name] = _clean(located.get(path, ""))
        for j, value in enumerate(enum.value):
            self.comments[f"{name}.{value.name}"] = _clean(located.get((*path, 2, j), ""))


def _clean(comment: str) -> str:
    lines = [line[1:] if line.startswith(" ") else line for line in comment.splitlines()]
    return "\n".join(lines).strip()


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name.lstrip('.')}"}


class _Builder:
    def __init__(self, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
        self.index = _Index(files)
        self.schemas: dict[str, Any] = {}
        self._pending: list[str] = []

    def field_schema(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        single = self._single(field)
        entry = self.index.messages.get(field.type_name)
        if entry is not None and entry.options.map_entry:
            return {"type": "object", "additionalProperties": self._single(entry.field[1])}
        if field.label == FieldProto.LABEL_REPEATED:
            return {"type": "array", "items": single}
        return single

    def _single(self, field: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
        if field.type in _SCALARS:
            return dict(_SCALARS[field.type])
        name = field.type_name.lstrip(".")
        if name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[name])
        self._want(name)
        return _ref(name)

    def _want(self, name: str) -> None:
        if name not in self.schemas and name not in self._pending:
            self._pending.append(name)

    def message_ref(self, type_name: str) -> dict[str, str]:
        self._want(type_name.lstrip("."))
        return _ref(type_name)

    def drain(self) -> None:
        while self._pending:
            name = self._pending.pop(0)
            if name in self.schemas:
                continue
            if f".{name}" in self.index.enums:
                enum = self.index.enums[f".{name}"]
                self.schemas[name] = _described(
                    {"type": "string", "enum": [v.name for v in enum.value]},
                    _enum_text(self.index, name, enum),
                )
                continue
            message = self.index.messages[f".{name}"]
            properties: dict[str, Any] = {}
            for field in message.field:
                schema = self.field_schema(field)
                text = self.index.comments.get(f".{name}.{field.name}", "")
                if field.HasField("oneof_index") and not field.proto3_optional:
                    group = message.oneof_decl[field.oneof_index].name
                    text = f"{text}\n\nOne of `{group}`: set at most one of its fields.".strip()
                properties[field.json_name] = _described(schema, text)
            self.schemas[name] = _described(
                {"type": "object", "properties": properties, "additionalProperties": False},
                self.index.comments.get(f".{name}", ""),
            )


def _described(schema: dict[str, Any], text: str) -> dict[str, Any]:
    # OpenAPI 3.1 allows a description beside a $ref: the field's own comment stays.
    return {**schema, "description": text} if text else schema


def _enum_text(index: _Index, name: str, enum: descriptor_pb2.EnumDescriptorProto) -> str:
    lines = [index.comments.get(f".{name}", "")]
    for value in enum.value:
        lines.append(f"- `{value.name}`: {index.comments.get(f'.{name}.{value.name}', '')}")
    return "\n".join(lines).strip()


def _fields(
    builder: _Builder, message: descriptor_pb2.DescriptorProto, prefix: str, skip: set[str]
) -> Iterator[tuple[str, descriptor_pb2.FieldDescriptorProto]]:
    """Query parameters of a message: scalar fields, and those of nested messages as
    `parent.child`, by JSON name."""
    for field in message.field:
        if field.name in skip:
            continue
        name = prefix + field.json_name
        nested = builder.index.messages.get(field.type_name)
        if field.type == FieldProto.TYPE_MESSAGE and nested is not None:
            if field.label != FieldProto.LABEL_REPEATED and not nested.options.map_entry:
                yield from _fields(builder, nested, name + ".", set())
            continue
        yield name, field


def _operation(builder: _Builder, binding: Binding, operation_id: str) -> dict[str, Any]:
    index = builder.index
    service_short = binding.service.rsplit(".", 1)[-1]
    method = _method(index, binding)
    request = index.messages[method.input_type]
    parameters: list[dict[str, Any]] = []
    bound_top: set[str] = set()
    for variable in binding.template.variables:
        field = _field_by_path(index, request, variable.field_path)
        bound_top.add(variable.field_path.split(".")[0])
        text = index.comments.get(f"{_owner(index, request, variable.field_path)}", "")
        if variable.end is None:
            text = (text + "\n\nMay span several segments: `/` is kept, not encoded.").strip()
        parameters.append(
            {
                "name": variable.field_path,
                "in": "path",
                "required": True,
                "schema": builder.field_schema(field),
                **({"description": text} if text else {}),
            }
        )
    if binding.body == "":
        for name, field in _fields(builder, request, "", bound_top):
            text = index.comments.get(_query_owner(index, request, name), "")
            parameter: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": False,
                "schema": builder.field_schema(field),
            }
            if field.label == FieldProto.LABEL_REPEATED:
                parameter.update(style="form", explode=True)
            if text:
                parameter["description"] = text
            parameters.append(parameter)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [service_short],
        "summary": _summary(index.comments.get(f".{binding.service}.{binding.rpc}", "")),
        "description": index.comments.get(f".{binding.service}.{binding.rpc}", ""),
        "parameters": parameters,
    }
    if binding.body:
        if binding.body == "*":
            schema = builder.message_ref(method.input_type)
            text = f"The {request.name} message; fields bound by the path come from the path."
        else:
            body_field = next(f for f in request.field if f.name == binding.body)
            schema = builder.field_schema(body_field)
            text = f"The `{body_field.json_name}` field of {request.name}."
        operation["requestBody"] = {
            "required": False,
            "description": text,
            "content": {"application/json": {"schema": schema}},
        }
    operation["responses"] = {
        "200": {
            "description": "Success.",
            "content": {"application/json": {"schema": builder.message_ref(method.output_type)}},
        },
        "default": _error_response(builder),
    }
    return operation


def _error_response(builder: _Builder) -> dict[str, Any]:
    return {
        "description": "An error: the gRPC status as a google.rpc.Status, with its details.",
        "content": {"application/json": {"schema": _ref(STATUS_SCHEMA)}},
    }


def _method(index: _Index, binding: Binding) -> descriptor_pb2.MethodDescriptorProto:
    return next(m for m in index.services[binding.service].method if m.name == binding.rpc)


def _field_by_path(
    index: _Index, message: descriptor_pb2.DescriptorProto, field_path: str
) -> descriptor_pb2.FieldDescriptorProto:
    current = message
    found: descriptor_pb2.FieldDescriptorProto | None = None
    for part in field_path.split("."):
        found = next(f for f in current.field if f.name == part)
        if found.type == FieldProto.TYPE_MESSAGE:
            current = index.messages[found.type_name]
    assert found is not None
    return found


def _owner(index: _Index, message: descriptor_pb2.DescriptorProto, field_path: str) -> str:
    """The comment key of the last field of a proto-name path."""
    name = index.name_of(message)
    parts = field_path.split(".")
    for part in parts[:-1]:
        field = next(f for f in index.messages[name].field if f.name == part)
        name = field.type_name
    return f"{name}.{parts[-1]}"


def _query_owner(index: _Index, message: descriptor_pb2.DescriptorProto, json_path: str) -> str:
    name = index.name_of(message)
    parts = json_path.split(".")
    for i, part in enumerate(parts):
        field = next(f for f in index.messages[name].field if f.json_name == part)
        if i == len(parts) - 1:
            return f"{name}.{field.name}"
        name = field.type_name
    return ""


def _summary(text: str) -> str:
    first = text.split("\n\n", 1)[0].replace("\n", " ")
    return first.split(". ", 1)[0].rstrip(".") + "." if first else ""


def _artifact_paths(builder: _Builder) -> dict[str, dict[str, Any]]:
    """The HTTP forms of Upload and Download, which no http rule can describe."""
    found: dict[str, dict[str, Any]] = {}
    upload_ref = builder.message_ref(".trackway.artifacts.v1.UploadResponse")
    for segment, variable, owner in _ARTIFACT_OWNERS:
        params = [
            {"name": variable, "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "path",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": f"The file's path below the {owner}'s artifact root; `/` is "
                "kept, not encoded.",
            },
        ]
        found[f"/v1/{segment}/{{{variable}}}/artifacts/{{path}}"] = {
            "put": {
                "operationId": f"ArtifactService_Upload_{owner}",
                "tags": ["ArtifactService"],
                "summary": f"Uploads one file to a {owner}'s artifacts (the HTTP form of Upload).",
                "description": "The body is the file's raw bytes, streamed (chunked or with "
                "a Content-Length, which is then checked). `X-Trackway-Sha256` optionally "
                "gives the file's lowercase hex SHA-256; a mismatch keeps nothing. The file "
                "becomes visible only when all of it arrived and was verified.",
                "parameters": [
                    *params,
                    {
                        "name": "X-Trackway-Sha256",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {}}},
                },
                "responses": {
                    "200": {
                        "description": "The stored file.",
                        "content": {"application/json": {"schema": upload_ref}},
                    },
                    "default": _error_response(builder),
                },
            },
            "get": {
                "operationId": f"ArtifactService_Download_{owner}",
                "tags": ["ArtifactService"],
                "summary": f"Downloads one file of a {owner}'s artifacts (the HTTP form of "
                "Download).",
                "description": "Answers the raw bytes with a Content-Length. A `Range: "
                "bytes=first-` or `bytes=first-last` header answers 206 with that part; "
                "other Range forms are ignored.",
                "parameters": [
                    *params,
                    {
                        "name": "Range",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file's bytes.",
                        "content": {"application/octet-stream": {"schema": {}}},
                    },
                    "206": {
                        "description": "The requested part of the file.",
                        "content": {"application/octet-stream": {"schema": {}}},
                    },
                    "default": _error_response(builder),
                },
            },
        }
    found["/v1/uploadSessions/{session_id}"] = {
        "put": {
            "operationId": "ArtifactService_Upload_session",
            "tags": ["ArtifactService"],
            "summary": "Continues a resumable upload session (the HTTP form of Upload with "
            "a session).",
            "description": "The body is the next bytes of the file, from `offset`, which must "
            "equal the session's committed bytes (GetUploadSession). The file is committed "
            "when the session's size is reached.",
            "parameters": [
                {
                    "name": "session_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                },
                {
                    "name": "offset",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "format": "int64"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {}}},
            },
            "responses": {
                "200": {
                    "description": "How far the session is.",
                    "content": {"application/json": {"schema": upload_ref}},
                },
                "default": _error_response(builder),
            },
        }
    }
    return found


def _status_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The error of a failed call, as google.rpc.Status: the gRPC code, a "
        "message for people, and details such as google.rpc.ErrorInfo (domain "
        "`trackway.dev`, `reason`, `metadata`) and google.rpc.BadRequest (`fieldViolations`).",
        "properties": {
            "code": {"type": "integer", "format": "int32", "description": "The gRPC code."},
            "message": {"type": "string"},
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"@type": {"type": "string"}},
                    "additionalProperties": True,
                },
            },
        },
    }


def build(files: list[descriptor_pb2.FileDescriptorProto]) -> dict[str, Any]:
    """The document as a dict."""
    builder = _Builder(files)
    paths: dict[str, dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for binding in api_bindings(files):
        base = f"{binding.service.rsplit('.', 1)[-1]}_{binding.rpc}"
        seen[base] = seen.get(base, 0) + 1
        operation_id = base if seen[base] == 1 else f"{base}_{seen[base]}"
        item = paths.setdefault(binding.template.openapi_path(), {})
        item[binding.method.lower()] = _operation(builder, binding, operation_id)
    for path, item in _artifact_paths(builder).items():
        paths.setdefault(path, {}).update(item)
    builder.drain()
    builder.schemas[STATUS_SCHEMA] = _status_schema()
    tags = [
        {"name": name.rsplit(".", 1)[-1], "description": builder.index.comments.get(f".{name}", "")}
        for name in api_services(files)
    ]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Trackway HTTP/JSON API",
            "version": "v1",
            "description": "Every unary RPC of Trackway's gRPC services, transcoded to "
            "HTTP/JSON by the google.api.http rules in proto/, with the proto3 JSON "
            "mapping (int64 values are strings, enums their names). Generated from the "
            "protos by tools/gen_openapi.py; see docs/http-api.md.",
        },
        "tags": tags,
        "paths": paths,
        "components": {"schemas": dict(sorted(builder.schemas.items()))},
    }
