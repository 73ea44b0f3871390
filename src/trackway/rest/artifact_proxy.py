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

Multipart uploads follow MLflow's protocol. `POST mpu/create/<folder>` with
`{"path": <the client's local file>, "num_parts": N}` starts an upload of the file named
by the path's last segment into `<folder>`, and answers `{"upload_id", "credentials"}`:
one URL per part, pointing back at this server (`mpu/parts/<upload id>/<n>`, built from
the request's scheme and Host), since the proxy serves every store the same way. The
client PUTs each part's bytes to its URL, in parallel; each PUT streams to the service
and answers with the part's ETag header. `POST mpu/complete/<folder>` with the
`parts` and their ETags joins them into the file, which only then appears;
`POST mpu/abort/<folder>` drops the upload. An unknown upload id is
RESOURCE_DOES_NOT_EXIST (404; MLflow's own server lets the store's error through as a
500), and a bad part list INVALID_PARAMETER_VALUE (400). The rules (part bounds, ETags,
atomic publication) live in ArtifactService and `trackway.artifacts.multipart`; this
module only translates. `presigned/<path>` (presigned downloads) answers
NOT_IMPLEMENTED, which MLflow's client takes as "download through the proxy".
"""

from __future__ import annotations

import logging
import mimetypes
import ntpath
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.from_thread

from trackway.artifacts import paths
from trackway.artifacts.multipart import Part
from trackway.artifacts.service import ArtifactService, Scope
from trackway.errors import NotFound, invalid
from trackway.rest import convert, jsonio, request_body
from trackway.rest.errors import (
    RestError,
    body_too_large,
    endpoint_not_found,
    malformed,
    not_implemented,
)
from trackway.rest.fields import Fields
from trackway.rest.uris import ArtifactUris
from trackway.tracking.service import TrackingService

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Offload = Callable[..., Awaitable[Any]]

log = logging.getLogger(__name__)

PART_ROUTE = "/api/2.0/mlflow-artifacts/mpu/parts"
_RUN_ID = re.compile(r"[0-9a-f]{32}")
# A Host header as a client may send it: a name or IPv4 address, or a bracketed IPv6
# address, and a port. Anything else would turn into part URLs pointing who knows where.
_HOST = re.compile(r"(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_MAX_JSON_BYTES = 16 << 20  # a completion of 10,000 parts is about 2 MB
_CACHE_LIMIT = 10_000
# Content types a browser could run: served as plain text, never rendered.
_ACTIVE_TYPES = ("text/html", "image/svg+xml", "application/javascript", "text/javascript")
# Request bodies reach the artifact layer in blocks of this size (see _request_body).
BODY_BLOCK = 1024 * 1024


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
        if tail.startswith("mpu/"):
            action, _, rest = tail[len("mpu/") :].partition("/")
            if method == "POST" and action in ("create", "complete", "abort"):
                fields = Fields.from_body(await _json_body(receive))
                if action == "create":
                    base = _base_url(scope)
                    reply = await self._offload(self._create_multipart, rest, fields, base)
                    return 200, jsonio.dumps(reply)
                finish = self._complete_multipart if action == "complete" else self._abort_multipart
                await self._offload(finish, rest, fields)
                return 200, b"{}"
            if method == "PUT" and action == "parts":
                await self._upload_part(rest, scope, receive, send)
                return None
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
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        target, rel = await self._offload(self._locator.locate, path)

        def store() -> None:
            self._artifacts.upload(
                target,
                rel,
                _request_body(receive),
                size=_content_length(headers),
                content_type=content_type,
                digest=False,  # MLflow's PUT answers no digest, so none is computed
            )

        await self._offload(store)

    # Multipart uploads

    def _multipart_target(self, folder: str, fields: Fields) -> tuple[Scope, str]:
        """The scope and file path an `mpu/...` request addresses: the URL names the
        folder, and the body's `path` (the client's local file) the file's name."""
        local = fields.text("path", required=True)
        # ntpath splits on both separators, so a Windows client's path names its file too.
        name = paths.clean("path", ntpath.basename(local))
        target, rel = self._locator.locate(folder)
        return target, paths.join(rel, name)

    def _create_multipart(self, folder: str, fields: Fields, base: str) -> dict[str, Any]:
        target, path = self._multipart_target(folder, fields)
        num_parts = fields.integer("num_parts")
        upload_id = self._artifacts.create_multipart(target, path, num_parts)
        return {
            "upload_id": upload_id,
            "credentials": [
                {"url": f"{base}{PART_ROUTE}/{upload_id}/{n}", "part_number": n, "headers": {}}
                for n in range(1, num_parts + 1)
            ],
        }

    def _complete_multipart(self, folder: str, fields: Fields) -> None:
        target, path = self._multipart_target(folder, fields)
        if not fields.has("parts"):
            raise invalid("parts", "Missing value for required parameter 'parts'")
        parts = []
        for i, item in enumerate(fields.objects("parts")):
            number = item.get("part_number")
            if isinstance(number, bool) or number is None:
                raise invalid(f"parts[{i}].part_number", "must be an integer")
            etag = item.get("etag") or ""
            if not isinstance(etag, str):
                raise invalid(f"parts[{i}].etag", "must be a string")
            parts.append(Part(jsonio.parse_int(f"parts[{i}].part_number", number), etag))
        self._artifacts.complete_multipart(target, path, fields.text("upload_id"), parts)

    def _abort_multipart(self, folder: str, fields: Fields) -> None:
        target, path = self._multipart_target(folder, fields)
        self._artifacts.abort_multipart(target, path, fields.text("upload_id"))

    async def _upload_part(
        self, rest: str, scope: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        upload_id, _, number = rest.partition("/")
        if not number.isdigit() or len(number) > 6:
            raise invalid("part_number", f"{number[:20]!r} is not a part number")
        size = _content_length(dict(scope["headers"]))

        def store() -> str:
            return self._artifacts.upload_part(
                upload_id, int(number), _request_body(receive), size=size
            )

        etag = await self._offload(store)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"2"),
                    (b"etag", f'"{etag}"'.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

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


def _request_body(receive: Receive) -> Iterator[bytes]:
    """The request body as a blocking iterator for a worker thread, in blocks of about
    BODY_BLOCK bytes. Each block is gathered on the event loop in one hand-over: a
    hand-over per ASGI message (often 64 KiB) costs more than the bytes it carries, and
    holding one block at a time keeps memory flat."""

    async def next_block() -> tuple[bytes, bool]:
        parts: list[bytes] = []
        size = 0
        while size < BODY_BLOCK:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            if chunk:
                parts.append(chunk)
                size += len(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), False
        return b"".join(parts), True

    more = True
    while more:
        block, more = anyio.from_thread.run(next_block)
        if block:
            yield block


def _content_length(headers: dict[bytes, bytes]) -> int:
    """The declared body size, or 0 when none was declared (a chunked body)."""
    length = headers.get(b"content-length", b"0").decode("latin-1")
    return int(length) if length.isdigit() else 0


async def _json_body(receive: Receive) -> bytes:
    return await request_body.read(
        receive, _MAX_JSON_BYTES, too_large=body_too_large, gone=malformed
    )


def _base_url(scope: dict[str, Any]) -> str:
    """This server as the client reached it: scheme, Host and any mount path, so that the
    part URLs handed out lead back here (uvicorn sets the scheme from X-Forwarded-Proto
    when a trusted proxy sends it)."""
    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
    if not host:
        server_host, port = scope.get("server") or ("127.0.0.1", 80)
        host = f"[{server_host}]:{port}" if ":" in server_host else f"{server_host}:{port}"
    if not _HOST.fullmatch(host):
        raise malformed(f"the Host header {host[:100]!r} is not a host and port")
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"
