"""ArtifactService over gRPC: stream messages in, one service call, stream messages out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from trackway.artifacts.repository import FileInfo
from trackway.artifacts.service import ArtifactService, FolderFile, Scope, Stored
from trackway.errors import invalid
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as pb_grpc


def _scope(message: artifact_pb2.ArtifactScope) -> Scope:
    return Scope(run_id=message.run_id, experiment_id=message.experiment_id)


def _file(info: FileInfo) -> artifact_pb2.FileInfo:
    return artifact_pb2.FileInfo(path=info.path, is_dir=info.is_dir, size=info.size)


def _chunks(requests: Iterator[Any], *, needs_end: bool) -> Iterator[bytes | memoryview]:
    """The bytes of an Upload stream. With `needs_end` (no announced size), a stream that
    stops without `end` raises: gRPC's server may show a cancelled stream as a finished
    one, and storing what came would make a half-uploaded file visible."""
    ended = False
    for request in requests:
        if ended:
            raise invalid("end", "nothing may follow `end`")
        if isinstance(request, memoryview):
            yield request
            continue
        kind = request.WhichOneof("kind")
        if kind == "chunk":
            yield request.chunk
        elif kind == "end":
            ended = True
        else:
            raise invalid("header", "only the first message of a stream may be a header")
    if needs_end and not ended:
        raise invalid(
            "end",
            "the stream stopped without `end` and its header announces no size, so the "
            "client may have gone away and nothing is kept; announce `size` or end with `end`",
        )


def _upload_request(raw: bytes) -> pb.UploadRequest | memoryview:
    """Decodes an UploadRequest; a chunk comes back as a view into the received bytes.

    Almost every message of an upload is a chunk: the bytes field alone, encoded as tag
    0x12, a varint length and the data. Taking a view of the data skips the two copies
    that parsing into a message and reading its field would make, a large share of the
    CPU an upload costs. Anything else is parsed as usual.
    """
    if raw[:1] == b"\x12":
        length, shift, pos = 0, 0, 1
        while pos < len(raw) and pos <= 10:
            byte = raw[pos]
            length |= (byte & 0x7F) << shift
            pos += 1
            if not byte & 0x80:
                if pos + length == len(raw):
                    return memoryview(raw)[pos:]
                break
            shift += 7
    return pb.UploadRequest.FromString(raw)


class _Captured:
    """Stands in for a server to capture the generated method handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        pass

    def add_registered_method_handlers(self, name: str, handlers: Any) -> None:
        self.handlers = dict(handlers)


def _stored(result: Stored) -> pb.UploadResponse:
    return pb.UploadResponse(
        file=_file(result.file) if result.file else None,
        sha256=result.sha256,
        complete=result.file is not None,
        committed_bytes=result.committed_bytes,
    )


class ArtifactServicer(pb_grpc.ArtifactServiceServicer):
    def __init__(self, service: ArtifactService) -> None:
        self._service = service

    def Upload(self, request_iterator: Iterator[pb.UploadRequest], context: Any) -> Any:
        first = next(request_iterator, None)
        if not isinstance(first, pb.UploadRequest) or first.WhichOneof("kind") != "header":
            raise invalid("header", "the first message of an Upload must be its header")
        header = first.header
        if header.session_id:
            result = self._service.upload_to_session(
                header.session_id,
                header.offset,
                _chunks(request_iterator, needs_end=False),
                header.content_type,
            )
        else:
            result = self._service.upload(
                _scope(header.scope),
                header.path,
                _chunks(request_iterator, needs_end=header.size == 0),
                size=header.size,
                expected_sha256=header.expected_sha256,
                content_type=header.content_type,
            )
        return _stored(result)

    def CreateUploadSession(self, request: pb.CreateUploadSessionRequest, context: Any) -> Any:
        session_id = self._service.create_session(
            _scope(request.scope), request.path, request.size, request.expected_sha256
        )
        return pb.CreateUploadSessionResponse(session_id=session_id)

    def GetUploadSession(self, request: pb.GetUploadSessionRequest, context: Any) -> Any:
        committed, size = self._service.session_status(request.session_id)
        return pb.GetUploadSessionResponse(
            committed_bytes=committed, size=size, complete=committed == size
        )

    def UploadFolder(self, request_iterator: Iterator[pb.UploadFolderRequest], context: Any) -> Any:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("kind") != "start":
            raise invalid("start", "the first message of an UploadFolder must be `start`")

        def items() -> Iterator[FolderFile | bytes]:
            for request in request_iterator:
                kind = request.WhichOneof("kind")
                if kind == "file":
                    f = request.file
                    yield FolderFile(f.path, f.size, f.expected_sha256)
                elif kind == "chunk":
                    yield request.chunk
                else:
                    raise invalid("start", "`start` may only be the first message")

        stored = self._service.upload_folder(_scope(first.start.scope), first.start.path, items())
        return pb.UploadFolderResponse(files=[_file(f) for f in stored])

    def Download(self, request: pb.DownloadRequest, context: Any) -> Any:
        size, chunks = self._service.download(
            _scope(request.scope), request.path, request.offset, request.length
        )
        first = True
        for chunk in chunks:
            yield pb.DownloadResponse(chunk=chunk, size=size if first else 0)
            first = False
        if first:
            yield pb.DownloadResponse(size=size)

    def ListArtifacts(self, request: pb.ListArtifactsRequest, context: Any) -> Any:
        files, token, root_uri = self._service.list(
            _scope(request.scope), request.path, request.page_size, request.page_token
        )
        return pb.ListArtifactsResponse(
            files=[_file(f) for f in files], next_page_token=token, root_uri=root_uri
        )

    def StatArtifact(self, request: pb.StatArtifactRequest, context: Any) -> Any:
        info = self._service.stat(_scope(request.scope), request.path)
        return pb.StatArtifactResponse(file=_file(info))

    def DeleteArtifact(self, request: pb.DeleteArtifactRequest, context: Any) -> Any:
        count = self._service.delete(_scope(request.scope), request.path)
        return pb.DeleteArtifactResponse(deleted_files=count)


def register(server: grpc.Server, service: ArtifactService) -> str:
    """Adds the servicer with the generated handlers, except Upload's decoder."""
    servicer = ArtifactServicer(service)
    captured = _Captured()
    pb_grpc.add_ArtifactServiceServicer_to_server(servicer, captured)
    captured.handlers["Upload"] = grpc.stream_unary_rpc_method_handler(
        servicer.Upload,
        request_deserializer=_upload_request,
        response_serializer=pb.UploadResponse.SerializeToString,
    )
    name = str(pb.DESCRIPTOR.services_by_name["ArtifactService"].full_name)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(name, captured.handlers),)
    )
    server.add_registered_method_handlers(name, captured.handlers)
    return name
