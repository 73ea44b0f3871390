"""The HTTP halves of artifact transfer, for an `http(s)://` tracking URI:
`trackway.artifacts.client` keeps the flow (folders, `.part` files, retries, progress)
and calls these where the bytes move.

Upload, UploadFolder and Download are streaming RPCs, which have no HTTP/JSON form; the
server's byte routes (`trackway.rest.http_artifacts`) take their place:

    PUT /v1/runs/{run_id}/artifacts/{path}          a file's bytes as the body
    PUT /v1/uploadSessions/{session_id}?offset=N    the rest of a resumable upload
    GET /v1/runs/{run_id}/artifacts/{path}          a file's bytes, from `Range: bytes=N-`

(and the same below `/v1/experiments/{experiment_id}`). Sessions, listing and stat go
through the unary RPCs on the same channel. A file is streamed from disk, never held in
memory, with its SHA-256 for the server to verify; a folder's small files take one PUT
each. Failures are HttpRpcErrors (grpc.RpcErrors), so the callers' retry loops and
typed errors work as they do over gRPC.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import grpc
from google.protobuf import json_format
from google.rpc import code_pb2

from trackway.artifacts.client import (
    CHUNK,
    RESUMABLE_THRESHOLD,
    _Incomplete,
    _progress,
    _retrying,
    _sha256,
)
from trackway.client.http_channel import HttpChannel, rpc_error
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as pb_grpc

SHA256_HEADER = "x-trackway-sha256"


def _http(channel: grpc.Channel) -> HttpChannel:
    if not isinstance(channel, HttpChannel):
        raise TypeError("http_transfer needs an HttpChannel (an http(s):// tracking URI)")
    return channel


def artifact_url(where: artifact_pb2.ArtifactScope, path: str) -> str:
    """The byte route of `path` below the scope's root; each segment percent-encoded."""
    if where.WhichOneof("owner") == "experiment_id":
        owner = f"experiments/{quote(where.experiment_id, safe='')}"
    else:
        owner = f"runs/{quote(where.run_id, safe='')}"
    return f"/v1/{owner}/artifacts/{quote(path, safe='/')}"


class _FileBody:
    """Exactly `length` bytes of a file from `offset`, in CHUNK blocks, as a request body
    (http.client sends an iterable body as it is, with our Content-Length). A file that
    shrank meanwhile stops the request: the server would otherwise wait for the bytes
    that Content-Length promised. One that grew is cut at `length`, and the server's
    digest check refuses it, as over gRPC."""

    def __init__(self, path: Path, offset: int, length: int, bar: Any) -> None:
        self.path = path
        self.offset = offset
        self.length = length
        self.bar = bar
        self.short = False

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            left = self.length
            while left:
                block = handle.read(min(CHUNK, left))
                if not block:
                    self.short = True
                    # An OSError: HttpChannel drops the half-sent request's connection.
                    raise OSError(f"{self.path} shrank while it was being sent")
                left -= len(block)
                if self.bar is not None:
                    self.bar.update(len(block))
                yield block


def _put(
    http: HttpChannel, url: str, body: _FileBody, headers: dict[str, str] | None = None
) -> pb.UploadResponse:
    sent = {"Content-Length": str(body.length), **(headers or {})}
    try:
        data = http.call("PUT", url, body, headers=sent)
    except grpc.RpcError:
        if body.short:
            raise rpc_error(
                code_pb2.INVALID_ARGUMENT,
                f"size: {body.path} changed while it was being uploaded; nothing was kept",
            ) from None
        raise
    reply = pb.UploadResponse()
    json_format.Parse(data or b"{}", reply, ignore_unknown_fields=True)
    return reply


def _put_whole(
    http: HttpChannel,
    where: artifact_pb2.ArtifactScope,
    source: Path,
    target: str,
    bar: Any,
    retries: int,
) -> pb.UploadResponse:
    """One file in one PUT, with its digest; a retry sends it all again."""
    size = source.stat().st_size
    digest = _sha256(source)
    url = artifact_url(where, target)
    start = bar.n if bar is not None else 0

    def whole() -> pb.UploadResponse:
        if bar is not None:
            bar.n = start
            bar.refresh()
        body = _FileBody(source, 0, size, bar)
        return _put(http, url, body, {SHA256_HEADER: digest})

    return _retrying(whole, retries)


def upload_file(
    channel: grpc.Channel,
    where: artifact_pb2.ArtifactScope,
    local_path: str | os.PathLike[str],
    artifact_path: str = "",
    *,
    progress: bool | None = None,
    retries: int = 5,
    resumable_threshold: int = RESUMABLE_THRESHOLD,
) -> pb.UploadResponse:
    """Uploads one file to `artifact_path` (default: the file's name) below the scope."""
    http = _http(channel)
    source = Path(local_path)
    target = artifact_path or source.name
    size = source.stat().st_size
    with _progress(size, target, progress) as bar:
        if size < resumable_threshold:
            return _put_whole(http, where, source, target, bar, retries)
        stub = pb_grpc.ArtifactServiceStub(channel)
        session = stub.CreateUploadSession(
            pb.CreateUploadSessionRequest(
                scope=where, path=target, size=size, expected_sha256=_sha256(source)
            )
        ).session_id

        def resume() -> pb.UploadResponse:
            status = stub.GetUploadSession(pb.GetUploadSessionRequest(session_id=session))
            committed = status.committed_bytes
            if bar is not None:
                bar.n = committed
                bar.refresh()
            url = f"/v1/uploadSessions/{quote(session, safe='')}?offset={committed}"
            reply = _put(http, url, _FileBody(source, committed, size - committed, bar))
            if not reply.complete:
                raise _Incomplete()
            return reply

        return _retrying(resume, retries)


def put_files(
    channel: grpc.Channel,
    where: artifact_pb2.ArtifactScope,
    root: Path,
    files: list[Path],
    artifact_path: str,
    bar: Any,
    retries: int,
) -> list[artifact_pb2.FileInfo]:
    """A folder's small files, one PUT each (what UploadFolder's one stream does over
    gRPC); paths below `artifact_path` as below `root`."""
    http = _http(channel)
    stored: list[artifact_pb2.FileInfo] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        target = f"{artifact_path}/{rel}" if artifact_path else rel
        stored.append(_put_whole(http, where, path, target, bar, retries).file)
    return stored


def read_into(
    channel: grpc.Channel,
    where: artifact_pb2.ArtifactScope,
    path: str,
    size: int,
    out: BinaryIO,
    bar: Any,
) -> None:
    """client.py's Reader over HTTP: a GET from the output's offset (`Range`)."""
    http = _http(channel)
    offset = out.tell()
    if offset and offset >= size:
        return  # all there: a Range from the end would be unsatisfiable
    headers = {"Range": f"bytes={offset}-"} if offset else None
    response = http.open("GET", artifact_url(where, path), headers=headers)
    try:
        if offset and response.status != 206:
            out.seek(0)  # the Range was ignored (a proxy?): the whole file came
            out.truncate()
        expected = int(response.headers.get("content-length", "-1"))
        got = 0
        while block := response.read(CHUNK):
            out.write(block)
            got += len(block)
            if bar is not None:
                bar.update(len(block))
    finally:
        response.close()
    if expected >= 0 and got != expected:
        # http.client ends a body cut short without an error; the retry resumes.
        raise rpc_error(
            code_pb2.UNAVAILABLE, f"{path}: the download broke off at {got} of {expected}"
        )
