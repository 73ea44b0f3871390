"""MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/...`) over ArtifactService.

MLflow addresses proxied artifacts by their path below the artifact root, such as
`1/<run id>/artifacts/model/MLmodel` or `1/models/<model id>/artifacts/MLmodel`. The
`Locator` turns such a path into the service's (Scope, relative path): a run when a
`<run id>/artifacts` pair is in it and that run's artifact URI is exactly the root plus
the path up to that pair; otherwise the experiment named by the first segment, when its
artifact location is the root plus that id. Anything else is RESOURCE_DOES_NOT_EXIST.
The service then applies its own rules (safe paths, deleted runs, the root).

Bodies stream both ways: an upload is fed to `ArtifactService.upload` chunk by chunk as
the request arrives, and a download is sent as the repository yields it, with its
Content-Length, so memory stays bounded by one chunk.

Multipart uploads: MLflow's protocol (`mpu/create` hands out presigned part URLs that
the client fills in parallel, without telling the file's size) does not fit the
service's resumable sessions, which need the size up front and take bytes in order.
`mpu/create` therefore answers NOT_IMPLEMENTED with the message MLflow's client
recognises (`Multipart upload is not supported for the current artifact repository`),
and the client falls back to one streamed PUT. `mpu/complete` and `mpu/abort` answer the
same, and so does `presigned/<path>` (presigned downloads).
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread

from trackway.artifacts import paths
from trackway.artifacts.service import ArtifactService, Scope
from trackway.errors import NotFound, invalid
from trackway.rest import convert, jsonio
from trackway.rest.errors import RestError, endpoint_not_found, not_implemented
from trackway.rest.fields import Fields
from trackway.rest.uris import ArtifactUris
from trackway.tracking.service import TrackingService

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Offload = Callable[..., Awaitable[Any]]

log = logging.getLogger(__name__)

MPU_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_CACHE_LIMIT = 10_000
# Content types a browser could run: served as plain text, never rendered.
_ACTIVE_TYPES = ("text/html", "image/svg+xml", "application/javascript", "text/javascript")


class ClientGone(RestError):
    """The client went away before sending the whole body; nothing was stored."""

    def __init__(self) -> None:
        super().__init__("BAD_REQUEST", 400, "the client disconnected during the upload")


class Locator:
    """Root-relative artifact paths to (Scope, path in scope), checked with the service.

    A run's artifact URI and an experiment's artifact location never change, so the
    lookups are cached; whether the run is deleted is checked by the artifact service on
    every call, not here.
    """

    def __init__(self, tracking: TrackingService, uris: ArtifactUris) -> None:
        self._t = tracking
        self._uris = uris
        self._runs: dict[str, str | None] = {}
        self._experiments: dict[str, str | None] = {}

    def locate(self, path: str) -> tuple[Scope, str]:
        # The service's own path rules first, so that a traversal attempt is reported as
        # such rather than as a path no run owns.
        segments = paths.clean("path", path.strip("/")).split("/")
        for k in range(1, len(segments)):
            if segments[k] == "artifacts" and _RUN_ID.fullmatch(segments[k - 1]):
                run_id = segments[k - 1]
                if self._run_root(run_id) == "/".join(segments[: k + 1]):
                    return Scope(run_id=run_id), "/".join(segments[k + 1 :])
                break
        eid = segments[0]
        if eid.isdigit() and len(eid) <= 18 and self._experiment_root(eid) == eid:
            return Scope(experiment_id=eid), "/".join(segments[1:])
        raise NotFound(f"no run or experiment holds the artifact path {path[:200]!r}")

    def _run_root(self, run_id: str) -> str | None:
        if run_id not in self._runs:
            try:
                uri = self._t.get_run(run_id).info.artifact_uri
            except NotFound:
                return None
            _remember(self._runs, run_id, self._uris.relative(uri))
        return self._runs[run_id]

    def _experiment_root(self, experiment_id: str) -> str | None:
        if experiment_id not in self._experiments:
            try:
                uri = self._t.get_experiment(experiment_id).artifact_location
            except NotFound:
                return None
            _remember(self._experiments, experiment_id, self._uris.relative(uri))
        return self._experiments[experiment_id]


def _remember(cache: dict[str, str | None], key: str, value: str | None) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


class ArtifactProxy:
    def __init__(self, artifacts: ArtifactService, locator: Locator, offload: Offload) -> None:
        self._artifacts = artifacts
        self._locator = locator
        self._offload = offload

    async def handle(
        self, method: str, tail: str, scope: dict[str, Any], receive: Receive, send: Send
    ) -> tuple[int, bytes] | None:
        """Serves one request below `mlflow-artifacts/`. Returns a JSON reply to send, or
        None when the response was streamed here."""
        if tail == "artifacts" and method == "GET":
            return 200, jsonio.dumps(await self._offload(self._list, scope["query_string"]))
        if tail.startswith("artifacts/"):
            path = tail[len("artifacts/") :]
            if method == "GET":
                await self._download(path, send)
                return None
            if method == "PUT":
                await self._upload(path, scope, receive)
                return 200, b"{}"
            if method == "DELETE":
                await self._offload(self._delete, path)
                return 200, b"{}"
        if method == "POST" and tail.startswith(("mpu/create/", "mpu/complete/", "mpu/abort/")):
            raise not_implemented(
                f"{MPU_UNSUPPORTED}: this server streams a single PUT to the store instead"
            )
        if method == "GET" and tail.startswith("presigned/"):
            raise not_implemented("presigned downloads are not supported; GET the artifact")
        raise endpoint_not_found(method, f"/api/2.0/mlflow-artifacts/{tail}")

    def _list(self, query: bytes) -> dict[str, Any]:
        path = Fields.from_query(query).text("path").strip("/")
        if not path:
            raise invalid("path", "must name an experiment's or a run's artifact folder")
        target, rel = self._locator.locate(path)
        found: list[Any] = []
        token = ""
        while True:
            page, token, _ = self._artifacts.list(target, rel, 10_000, token)
            found.extend(page)
            if not token:
                break
        return {"files": convert.files(found, strip=rel)}

    def _delete(self, path: str) -> None:
        target, rel = self._locator.locate(path)
        self._artifacts.delete(target, rel)

    async def _upload(self, path: str, scope: dict[str, Any], receive: Receive) -> None:
        headers = dict(scope["headers"])
        length = headers.get(b"content-length", b"0").decode()
        size = int(length) if length.isdigit() else 0
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        target, rel = await self._offload(self._locator.locate, path)

        async def next_message() -> dict[str, Any]:
            return await receive()

        def body() -> Iterator[bytes]:
            while True:
                message = anyio.from_thread.run(next_message)
                if message["type"] == "http.disconnect":
                    raise ClientGone()
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        def store() -> None:
            self._artifacts.upload(target, rel, body(), size=size, content_type=content_type)

        await self._offload(store)

    async def _download(self, path: str, send: Send) -> None:
        def open_file() -> tuple[int, Iterator[bytes], str]:
            target, rel = self._locator.locate(path)
            size, chunks = self._artifacts.download(target, rel)
            return size, chunks, rel

        size, chunks, rel = await self._offload(open_file)
        media = mimetypes.guess_type(rel)[0] or "application/octet-stream"
        if media in _ACTIVE_TYPES:
            media = "text/plain"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", media.encode()),
                    (b"content-length", str(size).encode()),
                    (b"x-content-type-options", b"nosniff"),
                ],
            }
        )
        try:
            while (chunk := await self._offload(next, chunks, None)) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except Exception as exc:
            # The status is sent: all that is left is to cut the response short, which
            # the client sees as fewer bytes than Content-Length promised.
            log.warning("download of %r stopped early: %s", path[:200], exc)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await self._offload(close)
