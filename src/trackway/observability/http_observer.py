"""The ASGI middleware that measures, logs and traces every HTTP request, and the
endpoint that serves `GET /metrics`.

HttpObserver wraps the authentication gate and everything behind it, so it sees every
answer, refusals and errors included, with their real status; MetricsEndpoint sits
behind the gate, since a scrape needs a user when authentication is on. (Only the
guards' refusals of a foreign Host or origin, which sit outside, go unmeasured.)

The request id the observer settles on (the client's `x-request-id` when usable,
else a new one) is written back into the request's headers, so the `/v1/`
transcoder passes that same id on to the gRPC call it makes, and it is added to the
response unless the gateway has set it already.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread

from trackway.observability import logs, request_ids, tracing
from trackway.observability.http_routes import RouteLabels, method_label
from trackway.observability.metrics import CONTENT_TYPE, Metrics

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

METRICS_PATH = "/metrics"
_HEADER = request_ids.HEADER.encode()


class HttpObserver:
    def __init__(
        self,
        app: App,
        metrics: Metrics,
        routes: RouteLabels,
        tracer: tracing.Tracer | None = None,
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._routes = routes
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        method: str = scope["method"]
        path = _path(scope)
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        sent_id = next((v.decode("latin-1") for k, v in headers if k.lower() == _HEADER), None)
        request_id = request_ids.accept(sent_id)
        if request_id != sent_id:
            kept = [(k, v) for k, v in headers if k.lower() != _HEADER]
            scope = {**scope, "headers": [*kept, (_HEADER, request_id.encode())]}
        token = request_ids.bind(request_id)
        exchange = _Exchange(self._metrics, self._routes, method, path, request_id, send)
        exchange.span = self._start_span(method, path, request_id, headers)
        try:
            await self._app(scope, receive, exchange.send)
        finally:
            exchange.end()  # when the app failed or returned without a whole response
            request_ids.unbind(token)

    def _start_span(
        self, method: str, path: str, request_id: str, headers: list[tuple[bytes, bytes]]
    ) -> Any:
        if self._tracer is None:
            return None
        carrier = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        return self._tracer.start(
            method_label(method),
            carrier,
            {
                "http.request.method": method,
                "url.path": path,
                "trackway.request_id": request_id,
            },
        )


class MetricsEndpoint:
    """Serves `GET /metrics`; every other request goes on to the app."""

    def __init__(self, app: App, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and _path(scope) == METRICS_PATH:
            await self._serve(send)
        else:
            await self._app(scope, receive, send)

    async def _serve(self, send: Send) -> None:
        # With --workers the exposition reads every worker's files: off the event loop.
        body = await anyio.to_thread.run_sync(self._metrics.render)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _path(scope: Scope) -> str:
    """The raw path: still percent-encoded, as the /v1/ routes match it, and safe to log."""
    raw: bytes | None = scope.get("raw_path")
    return (raw.decode("latin-1") if raw else scope["path"]).split("?", 1)[0]


class _Exchange:
    """One request, from its start to its one end: the moment its last byte is handed
    to the server, so a client that has the whole answer also finds it counted."""

    def __init__(
        self,
        metrics: Metrics,
        routes: RouteLabels,
        method: str,
        path: str,
        request_id: str,
        send: Send,
    ) -> None:
        self._metrics = metrics
        self._routes = routes
        self._method = method
        self._path = path
        self._request_id = request_id
        self._send = send
        self.span: Any = None
        self.status = 0
        self._ended = False
        # A scrape is counted, but not as in flight: it would always see itself.
        self._in_flight = None if path == METRICS_PATH else metrics.http_in_flight
        if self._in_flight is not None:
            self._in_flight.inc()
        self._started = time.perf_counter()

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            out = message.get("headers", [])
            if not any(k.lower() == _HEADER for k, _ in out):
                message = {**message, "headers": [*out, (_HEADER, self._request_id.encode())]}
        elif kind == "http.response.body" and not message.get("more_body", False):
            self.end()
        await self._send(message)

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        seconds = time.perf_counter() - self._started
        if self._in_flight is not None:
            self._in_flight.dec()
        # No response started: the app failed or returned early, and uvicorn answers 500.
        status = self.status or 500
        route = self._routes.route(self._method, self._path, status)
        label = method_label(self._method)
        self._metrics.http_requests.labels(label, route, str(status)).inc()
        self._metrics.http_seconds.labels(label, route).observe(seconds)
        if self.span is not None:
            self.span.update_name(f"{label} {route}")
            tracing.end_http(self.span, route, status)
        logs.http(self._method, self._path, status, seconds, self._request_id)
