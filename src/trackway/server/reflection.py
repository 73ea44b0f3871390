"""gRPC reflection that carries the protos' comments.

The descriptors embedded in generated Python modules have no comments, so reflection
from them gives `grpcurl describe` bare signatures. `make gen` also writes our protos
as a descriptor set with source info; for those files reflection answers with that
set's bytes, and for any other file (health, reflection, well-known types) as usual.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc


def _commented_files() -> dict[str, bytes]:
    data = (resources.files("trackway.gen") / "descriptors.binpb").read_bytes()
    return {
        f.name: f.SerializeToString()
        for f in descriptor_pb2.FileDescriptorSet.FromString(data).file
    }


class CommentedReflection(reflection.ReflectionServicer):
    """The stock servicer, answering file requests with commented descriptors.

    It overrides the two lookups that grpcurl uses (by file name and by symbol), which
    are private hooks of grpcio-reflection's servicer; tests/test_server.py fails if a
    new grpcio-reflection changes them.
    """

    def __init__(self, service_names: list[str]) -> None:
        super().__init__(service_names)
        self._commented = _commented_files()

    def _respond(self, request: Any, descriptor: Any) -> reflection_pb2.ServerReflectionResponse:
        files: dict[str, Any] = {}
        pending = [descriptor]
        while pending:
            current = pending.pop()
            if current.name in files:
                continue
            files[current.name] = current
            pending.extend(current.dependencies)
        serialized = []
        for name, file in files.items():
            if name in self._commented:
                serialized.append(self._commented[name])
            else:
                proto = descriptor_pb2.FileDescriptorProto()
                file.CopyToProto(proto)
                serialized.append(proto.SerializeToString())
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=reflection_pb2.FileDescriptorResponse(
                file_descriptor_proto=serialized
            ),
            original_request=request,
        )

    def _file_by_filename(self, request: Any, filename: str) -> Any:
        try:
            return self._respond(request, self._pool.FindFileByName(filename))
        except KeyError:
            return super()._file_by_filename(request, filename)

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        try:
            found = self._pool.FindFileContainingSymbol(fully_qualified_name)
        except KeyError:
            # The pool does not index methods: `pkg.Service.Method` is in its service's file.
            service = fully_qualified_name.rpartition(".")[0]
            try:
                found = self._pool.FindServiceByName(service).file
            except KeyError:
                return super()._file_containing_symbol(request, fully_qualified_name)
        return self._respond(request, found)


def enable(server: grpc.Server, service_names: list[str]) -> None:
    names = [*service_names, reflection.SERVICE_NAME]
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(CommentedReflection(names), server)
