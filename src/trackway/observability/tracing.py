"""Optional OpenTelemetry tracing: a server span per RPC and per HTTP request.

It is on when `--otlp-endpoint` names an OTLP/HTTP collector, and needs packages the
server does not otherwise depend on (opentelemetry-sdk and the OTLP/HTTP exporter);
without them the flag is refused with one line that says what to install. Spans leave
in batches from a background thread, so a slow collector never delays a request, and
a W3C `traceparent` from the client makes the server's span a child of the caller's.

Each server has its own TracerProvider rather than the process-global one: tests start
several servers in one process, and `stop()` must flush exactly its own spans.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import grpc

from trackway import __version__

PACKAGES = "opentelemetry-sdk opentelemetry-exporter-otlp-proto-http"
_MODULES = ("opentelemetry.sdk.trace", "opentelemetry.exporter.otlp.proto.http.trace_exporter")
EXPORT_TIMEOUT_SECONDS = 5.0
# The codes for which a server span is an error (OpenTelemetry's gRPC conventions):
# the others describe the request, not a fault of the server.
_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class TracingUnavailable(RuntimeError):
    """`--otlp-endpoint` was given but the OpenTelemetry packages are not installed."""


def require() -> None:
    """Fails with one clear line when the packages tracing needs are missing."""
    try:
        for module in _MODULES:
            importlib.import_module(module)
    except ImportError as exc:
        raise TracingUnavailable(
            f"--otlp-endpoint needs OpenTelemetry, which is not installed ({exc}); "
            f"pip install {PACKAGES}"
        ) from None


def traces_url(endpoint: str) -> str:
    """The collector's base URL (`http://collector:4318`) gets OTLP's `/v1/traces`
    path; a URL that names a path is used as it is."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"--otlp-endpoint must be an http:// or https:// URL of an OTLP/HTTP "
            f"collector, not {endpoint!r}"
        )
    if parts.path in ("", "/"):
        return endpoint.rstrip("/") + "/v1/traces"
    return endpoint


class Tracer:
    """Starts server spans and exports them over OTLP/HTTP (protobuf)."""

    def __init__(self, endpoint: str) -> None:
        require()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        exporter = OTLPSpanExporter(endpoint=traces_url(endpoint), timeout=EXPORT_TIMEOUT_SECONDS)
        resource = Resource.create({"service.name": "trackway", "service.version": __version__})
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("trackway", __version__)
        self._propagator = TraceContextTextMapPropagator()
        self._server_kind = SpanKind.SERVER

    def start(self, name: str, carrier: Mapping[str, str], attributes: dict[str, Any]) -> Any:
        """A started server span; `carrier` holds the request's headers or metadata."""
        parent = self._propagator.extract(carrier)
        return self._tracer.start_span(
            name, context=parent, kind=self._server_kind, attributes=attributes
        )

    def close(self) -> None:
        """Exports the spans still queued, then stops the exporter."""
        self._provider.shutdown()


def end_rpc(span: Any, code: grpc.StatusCode) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in _SERVER_FAULTS:
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


def end_http(span: Any, route: str, status: int) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
