"""The HTTP form of the artifact streams: PUT a file's raw bytes, GET them back.

Upload and Download are streaming RPCs, which proto3-JSON transcoding cannot express;
R, curl and browsers want plain bodies instead. These routes turn a request body into
an Upload stream and a Download stream into a response body, over the same loopback
channel as the unary routes, so the ArtifactServicer and every interceptor (errors,
later authentication) handle them as they handle gRPC clients, and the artifact
service's rules (safe paths, verified uploads, deleted runs) apply unchanged.

Neither direction holds a file in memory: the request body is read as gRPC's flow
control asks for the next message (at most CHUNK bytes are pending), and the response
is written one Download message (at most 1 MiB) at a time.

    PUT /v1/runs/{run_id}/artifacts/{path}              upload (also below experiments)
    GET /v1/runs/{run_id}/artifacts/{path}              download, with Range
    PUT /v1/uploadSessions/{session_id}?offset=N        continue a resumable session
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from typing import Any

import grpc
from google.rpc import code_pb2, error_details_pb2

from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb
from trackway.rest.transcode_errors import HttpError, bad_request, from_rpc_error
from trackway.rest.transcode_http import Handler, HttpRequest, Offload, send_bytes, send_error
from trackway.rest.transcode_request import response_json

log = logging.getLogger(__name__)

SERVICE = "/trackway.artifacts.v1.ArtifactService"
CHUNK = 1 << 20
_RANGE = re.compile(r"bytes=(\d+)-(\d*)")
_SHA256_HEADER = "x-trackway-sha256"


class HttpArtifacts:
    def __init__(self, channel: grpc.Channel, offload: Offload) -> None:
        self._offload = offload
        self._upload = channel.stream_unary(
            f"{SERVICE}/Upload",
            request_serializer=pb.UploadRequest.SerializeToString,
            response_deserializer=pb.UploadResponse.FromString,
        )
        self._download = channel.unary_stream(
            f"{SERVICE}/Download",
            request_serializer=pb.DownloadRequest.SerializeToString,
            response_deserializer=pb.DownloadResponse.FromString,
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        found: list[tuple[str, str, Handler]] = []
        for owner in ("runs/{run_id}", "experiments/{experiment_id}"):
            found.append(("PUT", f"/v1/{owner}/artifacts/{{path=**}}", self._put_file))
            found.append(("GET", f"/v1/{owner}/artifacts/{{path=**}}", self._get_file))
        found.append(("PUT", "/v1/uploadSessions/{session_id}", self._put_session))
        return found

    async def _put_file(self, request: HttpRequest) -> None:
        _no_query(request)
        length = request.headers.get("content-length", "")
        header = pb.UploadHeader(
            scope=_scope(request.vars),
            path=request.vars["path"],
            size=int(length) if length.isdigit() else 0,
            content_type=request.headers.get("content-type", ""),
            expected_sha256=request.headers.get(_SHA256_HEADER, ""),
        )
        await self._stream_up(request, header)

    async def _put_session(self, request: HttpRequest) -> None:
        query = dict(request.query)
        unknown = set(query) - {"offset"}
        if unknown:
            raise bad_request(f"unknown query parameter {sorted(unknown)[0]!r}; only offset")
        offset = query.get("offset", "0")
        if not offset.isdigit():
            raise bad_request(f"offset: {offset[:50]!r} is not a whole number", "offset")
        header = pb.UploadHeader(
            session_id=request.vars["session_id"],
            offset=int(offset),
            content_type=request.headers.get("content-type", ""),
        )
        await self._stream_up(request, header)

    async def _stream_up(self, request: HttpRequest, header: pb.UploadHeader) -> None:
        loop = asyncio.get_running_loop()

        def messages() -> Iterator[pb.UploadRequest]:
            # gRPC pulls these on its own thread, one message per completed send.
            yield pb.UploadRequest(header=header)
            pending = bytearray()
            while True:
                message = asyncio.run_coroutine_threadsafe(_receive(request), loop).result()
                if message["type"] == "http.disconnect":
                    # Ending the stream without `end` is enough: the service keeps
                    # nothing of an upload short of its size or its end (a session
                    # keeps what it committed, for a resume).
                    if header.session_id:
                        log.info("the client left mid-upload of session %s", header.session_id)
                    else:
                        log.info("the client left mid-upload of %s; nothing is kept", header.path)
                    return
                pending += message.get("body", b"")
                if len(pending) >= CHUNK:
                    yield pb.UploadRequest(chunk=bytes(pending))
                    pending.clear()
                if not message.get("more_body", False):
                    break
            if pending:
                yield pb.UploadRequest(chunk=bytes(pending))
            yield pb.UploadRequest(end=pb.UploadEnd())  # the whole body came

        def call() -> bytes:
            try:
                reply = self._upload(messages(), metadata=request.metadata)
            except grpc.RpcError as exc:
                raise from_rpc_error(exc) from None
            return response_json(reply)

        await send_bytes(request.send, 200, await self._offload(call), _echo(request))

    async def _get_file(self, request: HttpRequest) -> None:
        _no_query(request)
        offset, length, ranged = _parse_range(request.headers.get("range", ""))
        stream = self._download(
            pb.DownloadRequest(
                scope=_scope(request.vars), path=request.vars["path"], offset=offset, length=length
            ),
            metadata=request.metadata,
        )
        try:
            first = await self._offload(_next, stream)
            size = first.size if first is not None else 0
            remaining = size - offset
            if length:
                remaining = min(remaining, length)
            headers = [
                (b"content-type", b"application/octet-stream"),
                (b"content-length", str(remaining).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"accept-ranges", b"bytes"),
                *_echo(request),
            ]
            status = 200
            if ranged:
                if offset >= size:
                    raise _unsatisfiable(size)
                status = 206
                last = offset + remaining - 1
                headers.append((b"content-range", f"bytes {offset}-{last}/{size}".encode()))
            await request.send(
                {"type": "http.response.start", "status": status, "headers": headers}
            )
        except HttpError as exc:
            stream.cancel()
            if ranged and _names_offset(exc):
                exc = _unsatisfiable(-1)
            await send_error(request.send, exc, request.request_id)
            return
        except BaseException:
            stream.cancel()
            raise
        await self._send_rest(request, stream, first)

    async def _send_rest(
        self, request: HttpRequest, stream: Any, first: pb.DownloadResponse | None
    ) -> None:
        chunk = first.chunk if first is not None else b""
        try:
            while True:
                if chunk:
                    await request.send(
                        {"type": "http.response.body", "body": chunk, "more_body": True}
                    )
                message = await self._offload(_next, stream)
                if message is None:
                    break
                chunk = message.chunk
            await request.send({"type": "http.response.body", "body": b""})
        except Exception as exc:
            # The status is sent: all that is left is to cut the response short, which
            # the client sees as fewer bytes than Content-Length promised.
            log.warning("download of %r stopped early: %s", request.vars.get("path", "")[:200], exc)
        finally:
            stream.cancel()


async def _receive(request: HttpRequest) -> dict[str, Any]:
    return await request.receive()


def _echo(request: HttpRequest) -> list[tuple[bytes, bytes]]:
    return [(b"x-request-id", request.request_id.encode())]


def _next(stream: Any) -> pb.DownloadResponse | None:
    try:
        found: pb.DownloadResponse | None = next(stream, None)
        return found
    except grpc.RpcError as exc:
        raise from_rpc_error(exc) from None


def _scope(found: dict[str, str]) -> artifact_pb2.ArtifactScope:
    if "run_id" in found:
        return artifact_pb2.ArtifactScope(run_id=found["run_id"])
    return artifact_pb2.ArtifactScope(experiment_id=found["experiment_id"])


def _parse_range(header: str) -> tuple[int, int, bool]:
    """(offset, length, ranged) of a `bytes=first-[last]` Range; other forms (suffixes,
    several ranges) are ignored, as RFC 9110 allows, and the whole file is sent."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return 0, 0, False
    first = int(match.group(1))
    if not match.group(2):
        return first, 0, True
    last = int(match.group(2))
    if last < first:
        return 0, 0, False
    return first, last - first + 1, True


def _names_offset(error: HttpError) -> bool:
    if error.status.code != code_pb2.INVALID_ARGUMENT:
        return False
    for packed in error.status.details:
        bad = error_details_pb2.BadRequest()
        if packed.Unpack(bad) and any(v.field == "offset" for v in bad.field_violations):
            return True
    return False


def _unsatisfiable(size: int) -> HttpError:
    error = bad_request("the Range starts at or past the end of the file", "Range")
    error.http_status = 416
    error.status.code = code_pb2.OUT_OF_RANGE
    if size >= 0:
        error.headers.append((b"content-range", f"bytes */{size}".encode()))
    return error


def _no_query(request: HttpRequest) -> None:
    """The file routes take everything from the path and headers; a query parameter
    (such as `?offset=`, which only upload sessions take) would otherwise be ignored."""
    if request.query:
        name = request.query[0][0]
        raise bad_request(
            f"unknown query parameter {name[:50]!r}; {request.method} on an artifact takes "
            "none (ranges go in the Range header, resumed uploads to /v1/uploadSessions/)",
            name[:50],
        )
