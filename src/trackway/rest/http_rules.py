"""The `google.api.http` rules of the protos: path templates, parsed and matched.

A rule binds an RPC to an HTTP method and a path template such as
`/v1/runs/{run_id}/metrics/{metric_key=**}` or `/v1/runs/{run_id}:logBatch`. The
template grammar is http.proto's: literal segments, `*` (one segment), `**` (the rest
of the path, last only), variables `{field.path}` (one segment) or `{field.path=...}`
over other segments, and a custom verb `:verb` after the last segment.

The transcoder matches requests against these templates, and the OpenAPI generator
and the tests read the same `Binding`s, so the three can never disagree on a path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

METHODS = ("get", "put", "post", "delete", "patch")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LITERAL = re.compile(r"[^/{}*:=?#]+")


class TemplateError(ValueError):
    """A path template that http.proto's grammar does not allow."""


@dataclass(frozen=True)
class Variable:
    """A path variable: the field it sets and the segments [start, end) it covers;
    end is None when it ends in `**` and takes the rest of the path."""

    field_path: str
    start: int
    end: int | None


@dataclass(frozen=True)
class PathTemplate:
    """A parsed template: its segments (literals, `*`, `**`), variables and verb."""

    source: str
    segments: tuple[str, ...]
    variables: tuple[Variable, ...]
    verb: str

    @staticmethod
    def parse(source: str) -> PathTemplate:
        if not source.startswith("/"):
            raise TemplateError(f"{source!r}: a template starts with '/'")
        body, verb = _split_verb(source[1:])
        segments: list[str] = []
        variables: list[Variable] = []
        for part in _split_segments(body):
            if part.startswith("{"):
                if not part.endswith("}"):
                    raise TemplateError(f"{source!r}: unclosed variable {part!r}")
                field_path, _, inner = part[1:-1].partition("=")
                if not _IDENT.fullmatch(field_path):
                    raise TemplateError(f"{source!r}: bad field path {field_path!r}")
                start = len(segments)
                segments.extend(_check_plain(source, s) for s in (inner or "*").split("/"))
                end = None if segments[-1] == "**" else len(segments)
                variables.append(Variable(field_path, start, end))
            else:
                segments.append(_check_plain(source, part))
        if "**" in segments[:-1]:
            raise TemplateError(f"{source!r}: '**' may only be the last segment")
        return PathTemplate(source, tuple(segments), tuple(variables), verb)

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The variables' decoded values when the raw (still percent-encoded) path
        matches, else None. A `**` variable keeps its `/` separators."""
        if not raw_path.startswith("/"):
            return None
        rest = raw_path[1:]
        if self.verb:
            if not rest.endswith(":" + self.verb):
                return None
            rest = rest[: -len(self.verb) - 1]
        parts = rest.split("/")
        if self.segments[-1] == "**":
            fixed = len(self.segments) - 1
            if len(parts) < fixed:
                return None
            if len(parts) == fixed + 1 and parts[-1] == "" and fixed > 0:
                parts = parts[:-1]  # `/a/b/` is `/a/b` with an empty rest
        elif len(parts) != len(self.segments):
            return None
        for pattern, part in zip(self.segments, parts, strict=False):
            if pattern == "**":
                break
            if pattern == "*":
                if not part:
                    return None
            elif unquote(part) != pattern:
                return None
        return {
            v.field_path: "/".join(unquote(p) for p in parts[v.start : v.end])
            for v in self.variables
        }

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Orders templates that match the same path: a verb first, then without `**`,
        then the most literal segments."""
        literals = sum(1 for s in self.segments if s not in ("*", "**"))
        return (1 if self.verb else 0, 0 if "**" in self.segments else 1, literals)

    def openapi_path(self) -> str:
        """The template as an OpenAPI path: one `{name}` per variable."""
        out: list[str] = []
        spans = {v.start: v for v in self.variables}
        i = 0
        while i < len(self.segments):
            variable = spans.get(i)
            if variable is None:
                out.append(self.segments[i])
                i += 1
                continue
            out.append("{" + variable.field_path + "}")
            i = len(self.segments) if variable.end is None else variable.end
        return "/" + "/".join(out) + (":" + self.verb if self.verb else "")


def _split_verb(body: str) -> tuple[str, str]:
    depth = 0
    for i in range(len(body) - 1, -1, -1):
        c = body[i]
        if c == "}":
            depth += 1
        elif c == "{":
            depth -= 1
        elif c == "/" and depth == 0:
            return body, ""
        elif c == ":" and depth == 0:
            return body[:i], body[i + 1 :]
    return body, ""


def _split_segments(body: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for c in body:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "/" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += c
    parts.append(current)
    return parts


def _check_plain(source: str, segment: str) -> str:
    if segment in ("*", "**") or _LITERAL.fullmatch(segment):
        return segment
    raise TemplateError(f"{source!r}: bad segment {segment!r}")


@dataclass(frozen=True)
class Binding:
    """One HTTP binding of an RPC: `method` (upper case), template and body field.

    `body` is "" (no body: every field not in the path is a query parameter), "*" (the
    whole request is the body, minus path variables) or one top-level field's name.
    """

    service: str
    rpc: str
    method: str
    template: PathTemplate
    body: str

    @property
    def grpc_path(self) -> str:
        """The gRPC method path, `/package.Service/Method`."""
        return f"/{self.service}/{self.rpc}"


def rule_bindings(service: str, rpc: str, rule: http_pb2.HttpRule) -> list[Binding]:
    """The bindings of one rule: itself and its additional_bindings."""
    found: list[Binding] = []
    for item in [rule, *rule.additional_bindings]:
        kind = item.WhichOneof("pattern")
        if kind is None:
            continue
        if kind == "custom":
            method, path = item.custom.kind.upper(), item.custom.path
        else:
            method, path = kind.upper(), getattr(item, kind)
        found.append(Binding(service, rpc, method, PathTemplate.parse(path), item.body))
    return found


def method_rule(options: descriptor_pb2.MethodOptions) -> http_pb2.HttpRule | None:
    """The method's google.api.http rule, or None when it has none."""
    if not options.HasExtension(annotations_pb2.http):
        return None
    return options.Extensions[annotations_pb2.http]


def file_bindings(files: Iterable[descriptor_pb2.FileDescriptorProto]) -> list[Binding]:
    """Every binding of every RPC in the given files, in declaration order."""
    found: list[Binding] = []
    for file in files:
        for service in file.service:
            name = f"{file.package}.{service.name}" if file.package else service.name
            for method in service.method:
                rule = method_rule(method.options)
                if rule is not None:
                    found.extend(rule_bindings(name, method.name, rule))
    return found
