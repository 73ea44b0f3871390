"""The gateway: one ASGI app that serves MLflow's REST API over Trackway's services.

Routing is a dictionary lookup on (method, path below the API prefix); the same table
serves `/api/2.0/mlflow/` and `/ajax-api/2.0/mlflow/` (the prefix MLflow's UI uses).
Bodies are parsed with orjson on the event loop, and the service call, which blocks on
the database, runs on a worker thread (at most `threads` at once). Every exception
leaves through `errors.to_response`, the one place that writes MLflow's error bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import anyio
import anyio.to_thread

from trackway import __version__
from trackway.artifacts.service import ArtifactService
from trackway.registry.service import RegistryService
from trackway.rest import errors, jsonio, request_body
from trackway.rest.artifact_proxy import ArtifactProxy, Locator, Receive, Send
from trackway.rest.fields import Fields
from trackway.rest.logged_model_routes import LoggedModelRoutes
from trackway.rest.registry_routes import RegistryRoutes
from trackway.rest.tracking_routes import TrackingRoutes
from trackway.rest.transcode import PREFIX as NATIVE_PREFIX
from trackway.rest.transcode import Transcoder
from trackway.rest.uris import ArtifactUris
from trackway.store.logged_model_store import SqlLoggedModelStore
from trackway.tracking.logged_models import LoggedModelService
from trackway.tracking.service import TrackingService
from trackway.ui.assets import UiAssets

Handler = Callable[[Fields], dict[str, Any]]
API_PREFIXES = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")
_PLAIN = {"/health": b"OK", "/version": __version__.encode()}
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts/", "/ajax-api/2.0/mlflow-artifacts/")
_JSON_HEADERS = [(b"content-type", b"application/json")]


class Gateway:
    def __init__(
        self,
        tracking: TrackingService,
        registry: RegistryService,
        artifacts: ArtifactService,
        *,
        threads: int = 64,
        max_body_bytes: int = 64 << 20,
        grpc_target: str = "",
        grpc_services: Sequence[str] = (),
        models: LoggedModelService | None = None,
    ) -> None:
        uris = ArtifactUris(artifacts.root_uri)
        if models is None:  # the server passes the one its gRPC servicer uses
            models = LoggedModelService(SqlLoggedModelStore.from_tracking(tracking.store))
        self._logged = LoggedModelRoutes(models, uris)
        self._routes: dict[tuple[str, str], Handler] = {}
        self._add(TrackingRoutes(tracking, artifacts, models, uris).routes())
        self._add(RegistryRoutes(registry, uris).routes())
        self._add(self._logged.routes())
        self._paths = {path for _, path in self._routes}
        self._proxy = ArtifactProxy(artifacts, Locator(tracking, uris), self._offload)
        self._threads = threads
        self._limiter: anyio.CapacityLimiter | None = None
        self._max_body = max_body_bytes
        self._ui = UiAssets()  # the Web UI's files at `/` and below `/ui/`
        # The native API over HTTP/JSON: calls the gRPC server at grpc_target.
        self._native = (
            Transcoder(
                grpc_target,
                self._offload,
                max_message_bytes=max_body_bytes,
                services=grpc_services or None,
            )
            if grpc_target
            else None
        )

    @property
    def mlflow_routes(self) -> list[tuple[str, str]]:
        """(method, path below the API prefix) of every fixed MLflow endpoint; the
        logged-model endpoints with an id in the path are matched apart (`route`). The
        auth tests check that each one has a permission rule."""
        return sorted(self._routes)

    def _add(self, routes: Iterable[tuple[str, str, Handler]]) -> None:
        for method, path, handler in routes:
            self._routes[(method, path)] = handler

    async def _offload(self, func: Callable[..., Any], *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._threads)
        return await anyio.to_thread.run_sync(partial(func, *args), limiter=self._limiter)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if self._native is not None and path.startswith(NATIVE_PREFIX):
            await self._native(scope, receive, send)  # answers its own errors
            return
        if method == "GET" and path in _PLAIN:
            # Load balancers and Kubernetes HTTP probes ask these, as of MLflow's server.
            body = _PLAIN[path]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if UiAssets.serves(method, path):
            await self._ui(scope, receive, send)
            return
        try:
            reply = await self._dispatch(method, path, scope, receive, send)
        except Exception as exc:
            reply = errors.to_response(exc, f"{method} {path}")
        if reply is not None:
            status, body = reply
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})

    async def _dispatch(
        self, method: str, path: str, scope: dict[str, Any], receive: Receive, send: Send
    ) -> tuple[int, bytes] | None:
        for prefix in API_PREFIXES:
            if path.startswith(prefix):
                tail = path[len(prefix) :]
                handler = self._routes.get((method, tail)) or self._logged.route(method, tail)
                if handler is None:
                    raise self._missing(method, path, tail)
                if method == "GET":
                    fields = Fields.from_query(scope["query_string"])
                else:
                    fields = Fields.from_body(await self._body(receive))
                return 200, jsonio.dumps(await self._offload(handler, fields))
        for prefix in ARTIFACT_PREFIXES:
            if path.startswith(prefix):
                return await self._proxy.handle(method, path[len(prefix) :], scope, receive, send)
        raise errors.endpoint_not_found(method, path)

    def _missing(self, method: str, path: str, tail: str) -> errors.RestError:
        if tail in self._paths:
            allowed = sorted(m for m, p in self._routes if p == tail)
            return errors.RestError(
                "ENDPOINT_NOT_FOUND",
                405,
                f"{path} does not take {method}; it takes {', '.join(allowed)}",
            )
        return errors.endpoint_not_found(method, path)

    async def _body(self, receive: Receive) -> bytes:
        return await request_body.read(
            receive, self._max_body, too_large=errors.body_too_large, gone=errors.malformed
        )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(
    tracking: TrackingService,
    registry: RegistryService,
    artifacts: ArtifactService,
    *,
    threads: int = 64,
    max_body_bytes: int = 64 << 20,
    grpc_target: str = "",
    grpc_services: Sequence[str] = (),
    models: LoggedModelService | None = None,
) -> Gateway:
    """The ASGI app of MLflow's REST API over the given services, and of the native API
    over HTTP/JSON below /v1/ when `grpc_target` names the server's gRPC address (for
    the `grpc_services` it serves, or all of the API's)."""
    return Gateway(
        tracking,
        registry,
        artifacts,
        threads=threads,
        max_body_bytes=max_body_bytes,
        grpc_target=grpc_target,
        grpc_services=grpc_services,
        models=models,
    )
