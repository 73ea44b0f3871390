"""Python-side artifact transfer: upload a file or a folder, download a file or a folder.

Large files go through a resumable session: after a broken connection the client asks
the server how many bytes it holds and sends the rest. Downloads resume from the bytes
already on disk. A progress bar (tqdm) appears when stderr is a terminal.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import grpc

from trackway.gen.artifacts.v1 import artifact_pb2
from trackway.gen.artifacts.v1 import artifact_service_pb2 as pb
from trackway.gen.artifacts.v1 import artifact_service_pb2_grpc as pb_grpc

CHUNK = 1024 * 1024
RESUMABLE_THRESHOLD = 64 * 1024 * 1024
FOLDER_BATCH_LIMIT = 4 * 1024 * 1024
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
}
T = TypeVar("T")


def scope(*, run_id: str = "", experiment_id: str = "") -> artifact_pb2.ArtifactScope:
    if bool(run_id) == bool(experiment_id):
        raise ValueError("name exactly one of run_id and experiment_id")
    if run_id:
        return artifact_pb2.ArtifactScope(run_id=run_id)
    return artifact_pb2.ArtifactScope(experiment_id=experiment_id)


def _progress(total: int, label: str, show: bool | None) -> Any:
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return nullcontext(None)
    try:
        from tqdm import tqdm
    except ImportError:
        return nullcontext(None)
    return tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False)


def _retrying(action: Callable[[], T], retries: int) -> T:
    delay = 0.2
    for attempt in range(retries + 1):
        try:
            return action()
        except grpc.RpcError as exc:
            if exc.code() not in RETRYABLE or attempt == retries:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _file_chunks(path: Path, offset: int, bar: Any) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        handle.seek(offset)
        while block := handle.read(CHUNK):
            if bar is not None:
                bar.update(len(block))
            yield block


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
    from trackway.client.http_channel import is_http

    if is_http(channel):
        from trackway.artifacts import http_transfer

        return http_transfer.upload_file(
            channel,
            where,
            local_path,
            artifact_path,
            progress=progress,
            retries=retries,
            resumable_threshold=resumable_threshold,
        )
    stub = pb_grpc.ArtifactServiceStub(channel)
    source = Path(local_path)
    target = artifact_path or source.name
    size = source.stat().st_size
    digest = _sha256(source)
    with _progress(size, target, progress) as bar:
        if size < resumable_threshold:

            def whole() -> pb.UploadResponse:
                header = pb.UploadHeader(
                    scope=where, path=target, size=size, expected_sha256=digest
                )
                if bar is not None:
                    bar.reset()
                requests = _with_header(pb.UploadRequest(header=header), source, 0, bar)
                return stub.Upload(requests)

            return _retrying(whole, retries)
        session = stub.CreateUploadSession(
            pb.CreateUploadSessionRequest(
                scope=where, path=target, size=size, expected_sha256=digest
            )
        ).session_id

        def resume() -> pb.UploadResponse:
            status = stub.GetUploadSession(pb.GetUploadSessionRequest(session_id=session))
            if bar is not None:
                bar.n = status.committed_bytes
            header = pb.UploadHeader(session_id=session, offset=status.committed_bytes)
            reply = stub.Upload(
                _with_header(pb.UploadRequest(header=header), source, status.committed_bytes, bar)
            )
            if not reply.complete:
                raise _Incomplete()
            return reply

        return _retrying(resume, retries)


class _Incomplete(grpc.RpcError):
    """The stream ended before the session was full; resuming sends the rest."""

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE


def _with_header(
    header: pb.UploadRequest, source: Path, offset: int, bar: Any
) -> Iterator[pb.UploadRequest]:
    yield header
    for block in _file_chunks(source, offset, bar):
        yield pb.UploadRequest(chunk=block)
    yield pb.UploadRequest(end=pb.UploadEnd())


def upload_dir(
    channel: grpc.Channel,
    where: artifact_pb2.ArtifactScope,
    local_dir: str | os.PathLike[str],
    artifact_path: str = "",
    *,
    progress: bool | None = None,
    retries: int = 5,
) -> list[artifact_pb2.FileInfo]:
    """Uploads a folder: small files together in one stream (one PUT each over HTTP),
    large ones one by one."""
    from trackway.client.http_channel import is_http

    root = Path(local_dir)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    small = [p for p in files if p.stat().st_size <= FOLDER_BATCH_LIMIT]
    large = [p for p in files if p.stat().st_size > FOLDER_BATCH_LIMIT]
    stored: list[artifact_pb2.FileInfo] = []
    if small:
        total = sum(p.stat().st_size for p in small)
        with _progress(total, str(root), progress) as bar:
            if is_http(channel):
                from trackway.artifacts import http_transfer

                put = http_transfer.put_files
                stored = put(channel, where, root, small, artifact_path, bar, retries)
            else:
                stored = _upload_folder(channel, where, root, small, artifact_path, bar, retries)
    for path in large:
        rel = path.relative_to(root).as_posix()
        target = f"{artifact_path}/{rel}" if artifact_path else rel
        reply = upload_file(channel, where, path, target, progress=progress, retries=retries)
        stored.append(reply.file)
    return stored


def _upload_folder(
    channel: grpc.Channel,
    where: artifact_pb2.ArtifactScope,
    root: Path,
    files: list[Path],
    artifact_path: str,
    bar: Any,
    retries: int,
) -> list[artifact_pb2.FileInfo]:
    """Small files in one UploadFolder stream, each with its size and SHA-256."""
    stub = pb_grpc.ArtifactServiceStub(channel)

    def folder() -> Iterator[pb.UploadFolderRequest]:
        start = pb.UploadFolderStart(scope=where, path=artifact_path)
        yield pb.UploadFolderRequest(start=start)
        for path in files:
            data = path.read_bytes()
            yield pb.UploadFolderRequest(
                file=pb.UploadFolderFile(
                    path=path.relative_to(root).as_posix(),
                    size=len(data),
                    expected_sha256=hashlib.sha256(data).hexdigest(),
                )
            )
            if data:
                yield pb.UploadFolderRequest(chunk=data)
            if bar is not None:
                bar.update(len(data))

    return list(_retrying(lambda: stub.UploadFolder(folder()), retries).files)


def download(
    channel: grpc.Channel,
    where: artifact_pb2.ArtifactScope,
    artifact_path: str,
    local_path: str | os.PathLike[str],
    *,
    progress: bool | None = None,
    retries: int = 5,
) -> Path:
    """Downloads a file to `local_path`, or a folder into the folder `local_path`."""
    from trackway.client.http_channel import is_http

    stub = pb_grpc.ArtifactServiceStub(channel)
    read: Reader = partial(_read_stream, stub)
    if is_http(channel):
        from trackway.artifacts import http_transfer

        read = partial(http_transfer.read_into, channel)
    info = stub.StatArtifact(pb.StatArtifactRequest(scope=where, path=artifact_path)).file
    dest = Path(local_path)
    if not info.is_dir:
        _download_file(read, where, artifact_path, info.size, dest, progress, retries)
        return dest
    for rel, size in _walk(stub, where, artifact_path):
        below = rel[len(artifact_path) + 1 :] if artifact_path else rel
        _download_file(read, where, rel, size, dest / below, progress, retries)
    return dest


def _walk(
    stub: pb_grpc.ArtifactServiceStub, where: artifact_pb2.ArtifactScope, folder: str
) -> Iterator[tuple[str, int]]:
    token = ""
    while True:
        page = stub.ListArtifacts(
            pb.ListArtifactsRequest(scope=where, path=folder, page_token=token)
        )
        for item in page.files:
            if item.is_dir:
                yield from _walk(stub, where, item.path)
            else:
                yield item.path, item.size
        token = page.next_page_token
        if not token:
            return


# Appends a file's bytes from the output's current offset to its end: (scope, path,
# size, output, progress bar or None).
Reader = Callable[[artifact_pb2.ArtifactScope, str, int, BinaryIO, Any], None]


def _read_stream(
    stub: pb_grpc.ArtifactServiceStub,
    where: artifact_pb2.ArtifactScope,
    path: str,
    size: int,
    out: BinaryIO,
    bar: Any,
) -> None:
    request = pb.DownloadRequest(scope=where, path=path, offset=out.tell())
    for reply in stub.Download(request):
        out.write(reply.chunk)
        if bar is not None:
            bar.update(len(reply.chunk))


def _download_file(
    read: Reader,
    where: artifact_pb2.ArtifactScope,
    path: str,
    size: int,
    dest: Path,
    progress: bool | None,
    retries: int,
) -> None:
    """Into a `.part` file beside `dest`, which a retry resumes from where it stopped,
    renamed to `dest` once whole."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part")
    partial.unlink(missing_ok=True)
    progress_bar: AbstractContextManager[Any] = _progress(size, path, progress)
    with progress_bar as bar, open(partial, "ab") as out:

        def fetch() -> None:
            read(where, path, size, out, bar)
            out.flush()

        _retrying(fetch, retries)
    if partial.stat().st_size != size:
        raise OSError(f"{path}: got {partial.stat().st_size} bytes of {size}")
    os.replace(partial, dest)
