"""ArtifactService over gRPC on the local store: uploads, resumes, reads, and path safety."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_status import rpc_status

from trackway.artifacts import client
from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as pb_grpc
from trackway.gen.tracking.v1 import tracking_service_pb2 as tpb
from trackway.gen.tracking.v1 import tracking_service_pb2_grpc as tpb_grpc
from trackway.server.app import RunningServer

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
MiB = 1024 * 1024


@pytest.fixture
def art(channel: grpc.Channel) -> pb_grpc.ArtifactServiceStub:
    return pb_grpc.ArtifactServiceStub(channel)


@pytest.fixture
def run_id(stub: tpb_grpc.TrackingServiceStub) -> str:
    exp = stub.CreateExperiment(tpb.CreateExperimentRequest(name="art")).experiment
    return str(
        stub.CreateRun(tpb.CreateRunRequest(experiment_id=exp.experiment_id)).run.info.run_id
    )


def _scope(run_id: str) -> artifact_pb2.ArtifactScope:
    return artifact_pb2.ArtifactScope(run_id=run_id)


def _upload(
    art: pb_grpc.ArtifactServiceStub, run_id: str, path: str, data: bytes, **header: object
) -> pb.UploadResponse:
    def requests() -> Iterator[pb.UploadRequest]:
        yield pb.UploadRequest(
            header=pb.UploadHeader(scope=_scope(run_id), path=path, **header)  # type: ignore[arg-type]
        )
        for i in range(0, len(data), MiB):
            yield pb.UploadRequest(chunk=data[i : i + MiB])
        yield pb.UploadRequest(end=pb.UploadEnd())

    return art.Upload(requests())


def _download(
    art: pb_grpc.ArtifactServiceStub, run_id: str, path: str, offset: int = 0, length: int = 0
) -> bytes:
    request = pb.DownloadRequest(scope=_scope(run_id), path=path, offset=offset, length=length)
    return b"".join(r.chunk for r in art.Download(request))


def _code(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as err:
        call()  # type: ignore[operator]
    return err.value.code(), err.value.details()  # type: ignore[attr-defined]


def _names(art: pb_grpc.ArtifactServiceStub, run_id: str, path: str = "") -> list[str]:
    reply = art.ListArtifacts(pb.ListArtifactsRequest(scope=_scope(run_id), path=path))
    return [f.path for f in reply.files]


def test_upload_then_download_list_stat_delete(
    art: pb_grpc.ArtifactServiceStub, run_id: str
) -> None:
    data = os.urandom(3 * MiB + 17)
    reply = _upload(art, run_id, "model/weights.bin", data, size=len(data))
    assert reply.complete and reply.file.size == len(data)
    assert reply.sha256 == hashlib.sha256(data).hexdigest()
    assert _download(art, run_id, "model/weights.bin") == data
    assert (
        _download(art, run_id, "model/weights.bin", offset=MiB, length=100) == data[MiB : MiB + 100]
    )
    assert _download(art, run_id, "model/weights.bin", offset=len(data)) == b""
    _upload(art, run_id, "notes.txt", b"hello")
    listed = art.ListArtifacts(pb.ListArtifactsRequest(scope=_scope(run_id)))
    assert [(f.path, f.is_dir, f.size) for f in listed.files] == [
        ("model", True, 0),
        ("notes.txt", False, 5),
    ]
    assert listed.root_uri.endswith(f"/{run_id}/artifacts")
    stat = art.StatArtifact(pb.StatArtifactRequest(scope=_scope(run_id), path="model/weights.bin"))
    assert stat.file.size == len(data) and not stat.file.is_dir
    gone = art.DeleteArtifact(pb.DeleteArtifactRequest(scope=_scope(run_id), path="model"))
    assert gone.deleted_files == 1
    assert _names(art, run_id) == ["notes.txt"]


def test_empty_file_round_trip(art: pb_grpc.ArtifactServiceStub, run_id: str) -> None:
    assert _upload(art, run_id, "empty", b"", size=0).complete
    assert _download(art, run_id, "empty") == b""


def test_checksum_mismatch_keeps_nothing(art: pb_grpc.ArtifactServiceStub, run_id: str) -> None:
    code, message = _code(lambda: _upload(art, run_id, "x.bin", b"abc", expected_sha256="0" * 64))
    assert code == grpc.StatusCode.DATA_LOSS and "hash" in message
    assert _names(art, run_id) == []


def test_size_mismatch_keeps_nothing(art: pb_grpc.ArtifactServiceStub, run_id: str) -> None:
    code, _ = _code(lambda: _upload(art, run_id, "x.bin", b"abc", size=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, _ = _code(lambda: _upload(art, run_id, "y.bin", b"abcdef", size=2))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert _names(art, run_id) == []


def test_a_stream_of_unknown_size_needs_its_end(
    art: pb_grpc.ArtifactServiceStub, run_id: str
) -> None:
    def stream(*tail: pb.UploadRequest) -> Iterator[pb.UploadRequest]:
        yield pb.UploadRequest(header=pb.UploadHeader(scope=_scope(run_id), path="cut.bin"))
        yield pb.UploadRequest(chunk=b"half of it")
        yield from tail

    # As a client that went away looks when gRPC shows its stream as finished.
    code, details = _code(lambda: art.Upload(stream()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "`end`" in details
    end, more = pb.UploadRequest(end=pb.UploadEnd()), pb.UploadRequest(chunk=b"more")
    code, details = _code(lambda: art.Upload(stream(end, more)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "nothing may follow" in details
    assert _names(art, run_id) == []
    assert art.Upload(stream(end)).file.size == len(b"half of it")
    # An announced size is enough: the stream is whole when it has that many bytes.
    assert _upload(art, run_id, "sized.bin", b"abc", size=3).file.size == 3


def test_missing_things_are_not_found(art: pb_grpc.ArtifactServiceStub, run_id: str) -> None:
    code, _ = _code(lambda: _download(art, run_id, "nope.txt"))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = _code(
        lambda: art.StatArtifact(pb.StatArtifactRequest(scope=_scope(run_id), path="x"))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = _code(
        lambda: art.DeleteArtifact(pb.DeleteArtifactRequest(scope=_scope(run_id), path="x"))
    )
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = _code(lambda: _download(art, "f" * 32, "a.txt"))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = _code(lambda: art.GetUploadSession(pb.GetUploadSessionRequest(session_id="0" * 32)))
    assert code == grpc.StatusCode.NOT_FOUND


def test_deleted_run_refuses_uploads_but_serves_reads_and_deletes(
    art: pb_grpc.ArtifactServiceStub, stub: tpb_grpc.TrackingServiceStub, run_id: str
) -> None:
    _upload(art, run_id, "a.txt", b"a")
    stub.DeleteRun(tpb.DeleteRunRequest(run_id=run_id))
    code, _ = _code(lambda: _upload(art, run_id, "b.txt", b"b"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    assert _download(art, run_id, "a.txt") == b"a"
    # Deletes still work, so that garbage collection can clear files before a purge.
    gone = art.DeleteArtifact(pb.DeleteArtifactRequest(scope=_scope(run_id), path="a.txt"))
    assert gone.deleted_files == 1


def test_experiment_scope(
    art: pb_grpc.ArtifactServiceStub, stub: tpb_grpc.TrackingServiceStub
) -> None:
    exp = stub.CreateExperiment(tpb.CreateExperimentRequest(name="scoped")).experiment
    where = artifact_pb2.ArtifactScope(experiment_id=exp.experiment_id)
    art.Upload(
        iter(
            [
                pb.UploadRequest(header=pb.UploadHeader(scope=where, path="data.csv")),
                pb.UploadRequest(chunk=b"a,b\n"),
                pb.UploadRequest(end=pb.UploadEnd()),
            ]
        )
    )
    reply = art.ListArtifacts(pb.ListArtifactsRequest(scope=where))
    assert [f.path for f in reply.files] == ["data.csv"]


UNSAFE_PATHS = [
    ("/etc/passwd", "absolute"),
    ("../../etc/passwd", ".."),
    ("a/../../b", ".."),
    ("a/./b", "."),
    ("a//b", "empty"),
    ("a\\..\\b", "backslash"),
    ("a\x00b", "NUL"),
    ("%2e%2e/%2e%2e/etc/passwd", "percent"),
    ("%252e%252e%252fetc", "double"),
    ("..%2fetc%2fpasswd", "percent"),
    ("a%5c..%5cb", "percent backslash"),
    ("%2fetc%2fpasswd", "percent absolute"),
    ("file.txt;../../x", ";"),
    ("file.txt#/../../x", "#"),
    ("file.txt?p=../../x", "?"),
    ("C:/windows/system32", "drive"),
    ("a/\x1fb", "control"),
    ("", "empty"),
]


@pytest.mark.parametrize(("path", "why"), UNSAFE_PATHS)
def test_unsafe_paths_are_invalid_on_every_rpc(
    art: pb_grpc.ArtifactServiceStub, run_id: str, path: str, why: str
) -> None:
    calls = [
        lambda: _upload(art, run_id, path, b"x"),
        lambda: _download(art, run_id, path),
        lambda: art.DeleteArtifact(pb.DeleteArtifactRequest(scope=_scope(run_id), path=path)),
        lambda: art.CreateUploadSession(
            pb.CreateUploadSessionRequest(scope=_scope(run_id), path=path, size=1)
        ),
    ]
    if path:
        calls += [
            lambda: art.StatArtifact(pb.StatArtifactRequest(scope=_scope(run_id), path=path)),
            lambda: art.ListArtifacts(pb.ListArtifactsRequest(scope=_scope(run_id), path=path)),
        ]
    for call in calls:
        code, message = _code(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, (why, message)


def test_symlink_out_of_the_root_is_refused(
    art: pb_grpc.ArtifactServiceStub, server: RunningServer, run_id: str, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    _upload(art, run_id, "inside.txt", b"ok")
    run_dir = Path(server.artifacts.root_uri.removeprefix("file://"))
    link_folder = next(run_dir.rglob("inside.txt")).parent
    (link_folder / "escape.txt").symlink_to(secret)
    (link_folder / "escape_dir").symlink_to(tmp_path)
    for path in ("escape.txt", "escape_dir/secret.txt"):
        code, _ = _code(lambda p=path: _download(art, run_id, p))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, _ = _code(
        lambda: art.ListArtifacts(pb.ListArtifactsRequest(scope=_scope(run_id), path="escape_dir"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert secret.read_text() == "top secret"


def test_artifact_location_outside_the_root_is_refused(stub: tpb_grpc.TrackingServiceStub) -> None:
    for location in ("file:///etc", "/tmp/elsewhere", "s3://other-bucket/x"):
        request = tpb.CreateExperimentRequest(name=f"bad-{location}", artifact_location=location)
        code, _ = _code(lambda r=request: stub.CreateExperiment(r))
        assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_resumable_upload_survives_a_cut_connection(
    art: pb_grpc.ArtifactServiceStub, run_id: str
) -> None:
    data = os.urandom(10 * MiB)
    session = art.CreateUploadSession(
        pb.CreateUploadSessionRequest(
            scope=_scope(run_id),
            path="big.bin",
            size=len(data),
            expected_sha256=hashlib.sha256(data).hexdigest(),
        )
    ).session_id
    sent = threading.Event()

    def cut_after_four() -> Iterator[pb.UploadRequest]:
        yield pb.UploadRequest(header=pb.UploadHeader(session_id=session, offset=0))
        for i in range(4):
            yield pb.UploadRequest(chunk=data[i * MiB : (i + 1) * MiB])
        sent.set()
        raise ConnectionResetError("the network went away")

    with pytest.raises(grpc.RpcError):
        art.Upload(cut_after_four())
    assert sent.is_set()
    assert _names(art, run_id) == []  # nothing partial is visible
    status = art.GetUploadSession(pb.GetUploadSessionRequest(session_id=session))
    assert not status.complete and 0 < status.committed_bytes <= 4 * MiB
    code, _ = _code(
        lambda: art.Upload(
            iter([pb.UploadRequest(header=pb.UploadHeader(session_id=session, offset=1))])
        )
    )
    assert code == grpc.StatusCode.FAILED_PRECONDITION
    offset = status.committed_bytes

    def rest() -> Iterator[pb.UploadRequest]:
        yield pb.UploadRequest(header=pb.UploadHeader(session_id=session, offset=offset))
        for i in range(offset, len(data), MiB):
            yield pb.UploadRequest(chunk=data[i : i + MiB])

    reply = art.Upload(rest())
    assert reply.complete and reply.sha256 == hashlib.sha256(data).hexdigest()
    assert _download(art, run_id, "big.bin") == data


def test_folder_upload_of_many_small_files(
    art: pb_grpc.ArtifactServiceStub, channel: grpc.Channel, run_id: str, tmp_path: Path
) -> None:
    folder = tmp_path / "folder"
    for i in range(300):
        sub = folder / f"d{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i}.txt").write_bytes(f"file {i}".encode() * 10)
    stored = client.upload_dir(channel, client.scope(run_id=run_id), folder, "data")
    assert len(stored) == 300
    assert _names(art, run_id, "data") == [f"data/d{i}" for i in range(7)]
    out = client.download(channel, client.scope(run_id=run_id), "data", tmp_path / "back")
    for original in folder.rglob("*.txt"):
        assert (out / original.relative_to(folder)).read_bytes() == original.read_bytes()


def test_folder_upload_with_a_bad_file_stops_there(
    art: pb_grpc.ArtifactServiceStub, run_id: str
) -> None:
    def requests() -> Iterator[pb.UploadFolderRequest]:
        yield pb.UploadFolderRequest(start=pb.UploadFolderStart(scope=_scope(run_id)))
        yield pb.UploadFolderRequest(file=pb.UploadFolderFile(path="good.txt", size=2))
        yield pb.UploadFolderRequest(chunk=b"ok")
        yield pb.UploadFolderRequest(file=pb.UploadFolderFile(path="../evil.txt", size=1))
        yield pb.UploadFolderRequest(chunk=b"x")

    code, message = _code(lambda: art.UploadFolder(requests()))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "file.path" in message
    assert _names(art, run_id) == ["good.txt"]


def test_sdk_upload_file_resumable_and_download_resume(
    channel: grpc.Channel, run_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(6 * MiB + 3))
    where = client.scope(run_id=run_id)
    reply = client.upload_file(channel, where, source, "w/weights.bin", resumable_threshold=MiB)
    assert reply.complete and reply.file.size == source.stat().st_size
    back = client.download(channel, where, "w/weights.bin", tmp_path / "copy.bin")
    assert back.read_bytes() == source.read_bytes()


def test_error_details_name_the_field(art: pb_grpc.ArtifactServiceStub, run_id: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        _upload(art, run_id, "../x", b"x")
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    assert status is not None and len(status.details) == 2


def test_two_thousand_small_files_go_up_quickly(
    channel: grpc.Channel, run_id: str, tmp_path: Path
) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(2000):
        (folder / f"f{i:04d}.bin").write_bytes(os.urandom(4096))
    started = time.perf_counter()
    stored = client.upload_dir(channel, client.scope(run_id=run_id), folder)
    elapsed = time.perf_counter() - started
    assert len(stored) == 2000
    assert elapsed < 5.0, f"2,000 files of 4 KiB took {elapsed:.2f} s"


@pytest.mark.slow
def test_kill_9_mid_upload_leaves_nothing_visible(
    db_url: str, artifact_root: str, tmp_path: Path
) -> None:
    """A plain upload and a session upload are both halfway when the server dies."""
    from tests.support.procs import ServerProcess

    server = ServerProcess(db_url, artifact_root, tmp_path / "server.log")
    try:
        with grpc.insecure_channel(server.target) as ch:
            tracking = tpb_grpc.TrackingServiceStub(ch)
            exp = tracking.CreateExperiment(tpb.CreateExperimentRequest(name="k9")).experiment
            rid = tracking.CreateRun(
                tpb.CreateRunRequest(experiment_id=exp.experiment_id)
            ).run.info.run_id
            art = pb_grpc.ArtifactServiceStub(ch)
            session = art.CreateUploadSession(
                pb.CreateUploadSessionRequest(scope=_scope(rid), path="s.bin", size=64 * MiB)
            ).session_id
            headers = [
                pb.UploadHeader(scope=_scope(rid), path="plain.bin", size=64 * MiB),
                pb.UploadHeader(session_id=session, offset=0),
            ]
            halfway = [threading.Event() for _ in headers]
            release = threading.Event()

            def stalled(
                header: pb.UploadHeader, half: threading.Event
            ) -> Iterator[pb.UploadRequest]:
                yield pb.UploadRequest(header=header)
                for i in range(64):
                    if i == 8:
                        half.set()
                        release.wait(30)
                    yield pb.UploadRequest(chunk=b"\0" * MiB)

            workers = [
                threading.Thread(
                    target=_swallow, args=(lambda h=h, e=e: art.Upload(stalled(h, e)),)
                )
                for h, e in zip(headers, halfway, strict=True)
            ]
            for worker in workers:
                worker.start()
            assert all(e.wait(30) for e in halfway)
            time.sleep(0.5)  # let the server spool what was sent
            server.kill9()
            release.set()
            for worker in workers:
                worker.join(30)
        server = ServerProcess(db_url, artifact_root, tmp_path / "server.log", port=server.port)
        with grpc.insecure_channel(server.target) as ch:
            art = pb_grpc.ArtifactServiceStub(ch)
            assert _names(art, rid) == []
            for path in ("plain.bin", "s.bin"):
                code, _ = _code(lambda p=path: _download(art, rid, p))
                assert code == grpc.StatusCode.NOT_FOUND
            status = art.GetUploadSession(pb.GetUploadSessionRequest(session_id=session))
            assert not status.complete and status.committed_bytes < 64 * MiB
    finally:
        server.close()


def _swallow(call: Callable[[], object]) -> None:
    with contextlib.suppress(grpc.RpcError):
        call()
