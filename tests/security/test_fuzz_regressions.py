"""Regressions: each bug that the RPC fuzzer (test_fuzz_rpcs.py) found, pinned by the
smallest request that showed it. Every one used to answer INTERNAL; each is the
client's mistake and must be INVALID_ARGUMENT. (The attack table's own finds, such as
an upload onto a symlink that leads out of the root, stay pinned by its rows.)
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from tests.security.conftest import Seeded, Stubs, seed
from trackway.gen.admin.v1 import admin_service_pb2 as adminpb
from trackway.gen.admin.v1.admin_service_pb2_grpc import AdminServiceStub
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as apb
from trackway.server.app import RunningServer

Call = Callable[[Stubs, artifact_pb2.ArtifactScope, str], object]


@pytest.fixture
def seeded(server: RunningServer, channel: grpc.Channel) -> tuple[Stubs, Seeded]:
    stubs = Stubs.on(channel)
    return stubs, seed(stubs, server.artifacts.root_uri)


def _upload(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    header = apb.UploadHeader(scope=scope, path=path, size=1)
    return stubs.artifacts.Upload(
        iter([apb.UploadRequest(header=header), apb.UploadRequest(chunk=b"x")])
    )


def _folder(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    return stubs.artifacts.UploadFolder(
        iter(
            [
                apb.UploadFolderRequest(start=apb.UploadFolderStart(scope=scope)),
                apb.UploadFolderRequest(file=apb.UploadFolderFile(path=path, size=1)),
                apb.UploadFolderRequest(chunk=b"x"),
            ]
        )
    )


def _session(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    made = stubs.artifacts.CreateUploadSession(
        apb.CreateUploadSessionRequest(scope=scope, path=path, size=1)
    )
    header = apb.UploadHeader(session_id=made.session_id)
    return stubs.artifacts.Upload(
        iter([apb.UploadRequest(header=header), apb.UploadRequest(chunk=b"x")])
    )


def _download(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    return list(stubs.artifacts.Download(apb.DownloadRequest(scope=scope, path=path)))


def _stat(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    return stubs.artifacts.StatArtifact(apb.StatArtifactRequest(scope=scope, path=path))


def _list(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    return stubs.artifacts.ListArtifacts(apb.ListArtifactsRequest(scope=scope, path=path))


def _delete(stubs: Stubs, scope: artifact_pb2.ArtifactScope, path: str) -> object:
    return stubs.artifacts.DeleteArtifact(apb.DeleteArtifactRequest(scope=scope, path=path))


WRITES: dict[str, Call] = {"Upload": _upload, "UploadFolder": _folder, "session": _session}
READS: dict[str, Call] = {"Download": _download, "Stat": _stat, "List": _list, "Delete": _delete}
EVERY: dict[str, Call] = {**WRITES, **READS}


def _invalid(call: Callable[[], object], *words: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error = caught.value
    assert isinstance(error, grpc.Call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    for word in words:
        assert word in (error.details() or ""), error.details()


@pytest.mark.parametrize("write", WRITES)
def test_a_file_onto_a_folder_is_invalid_argument(seeded: tuple[Stubs, Seeded], write: str) -> None:
    """Fuzzer: Upload to `dir`, which holds dir/inner.txt, raised IsADirectoryError."""
    stubs, s = seeded
    scope = artifact_pb2.ArtifactScope(run_id=s.run_id)
    _invalid(lambda: WRITES[write](stubs, scope, "dir"), "is a folder")
    # The folder and what it holds are unharmed.
    assert _stat(stubs, scope, "dir/inner.txt")


@pytest.mark.parametrize("write", WRITES)
def test_a_file_below_a_file_is_invalid_argument(seeded: tuple[Stubs, Seeded], write: str) -> None:
    """Found with it: a path that runs through a file raised NotADirectoryError."""
    stubs, s = seeded
    scope = artifact_pb2.ArtifactScope(run_id=s.run_id)
    _invalid(lambda: WRITES[write](stubs, scope, "ok.txt/inner.txt"), "runs through a file")


@pytest.mark.parametrize("op", EVERY)
def test_a_segment_over_255_bytes_is_invalid_argument(
    seeded: tuple[Stubs, Seeded], op: str
) -> None:
    """Fuzzer: a 1,000-character file name raised ENAMETOOLONG from the filesystem."""
    stubs, s = seeded
    scope = artifact_pb2.ArtifactScope(run_id=s.run_id)
    call = EVERY[op]
    for name in ("a" * 256, "\u00e9" * 128, "dir/" + "b" * 300):
        _invalid(lambda name=name: call(stubs, scope, name), "255 bytes")  # type: ignore[misc]
    _stat(stubs, scope, "dir/inner.txt")  # a short name is fine


@pytest.mark.parametrize("op", EVERY)
def test_a_path_over_1024_bytes_is_invalid_argument(seeded: tuple[Stubs, Seeded], op: str) -> None:
    """Found with it: 1,023 characters of 4-byte emoji (16 short segments) passed the
    character limit and then PATH_MAX once the root was prefixed."""
    stubs, s = seeded
    scope = artifact_pb2.ArtifactScope(run_id=s.run_id)
    path = "/".join(["\U0001f600" * 63] * 16)
    assert len(path) <= 1024 < len(path.encode())
    _invalid(lambda: EVERY[op](stubs, scope, path), "bytes in UTF-8")


def test_a_nul_in_a_token_id_is_invalid_argument(channel: grpc.Channel) -> None:
    """Fuzzer: RevokeToken(token_id="\\0") reached PostgreSQL, which refuses NUL in text
    as a server error."""
    admin = AdminServiceStub(channel)
    for token_id in ("\x00", "tok\x00en", "t" * 65):
        request = adminpb.RevokeTokenRequest(token_id=token_id)
        _invalid(lambda request=request: admin.RevokeToken(request), "token_id")  # type: ignore[misc]
