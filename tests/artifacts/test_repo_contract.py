"""The ArtifactRepository contract, run against every backend: the local disk, and S3,
GCS and Azure through real emulators on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import gc
import hashlib
import io
import os
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.artifacts.conftest import Backend
from tests.support import required
from trackway.artifacts.repos import open_repository
from trackway.artifacts.repository import ArtifactRepository, FileInfo

MIB = 1024 * 1024


def write(folder: Path, data: bytes, name: str = "src.bin") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def pattern(size: int, seed: int = 1) -> bytes:
    """`size` bytes that differ from block to block (so misplaced parts show)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (MIB // 32)
    out = bytearray()
    index = 0
    while len(out) < size:
        out += index.to_bytes(8, "big") + block[: min(MIB, size - len(out)) - 8]
        index += 1
    return bytes(out[:size])


def put_bytes(repo: ArtifactRepository, tmp: Path, path: str, data: bytes) -> None:
    repo.put(write(tmp / "src", data), path)


def read_all(
    repo: ArtifactRepository, path: str, offset: int = 0, length: int | None = None
) -> bytes:
    out = bytearray()
    for chunk in repo.read(path, offset, length):
        assert 0 < len(chunk) <= MIB
        out += chunk
    return bytes(out)


def names(infos: list[FileInfo]) -> list[tuple[str, bool, int]]:
    return [(i.path, i.is_dir, i.size) for i in infos]


# Round trips


@pytest.mark.parametrize("path", ["a.txt", "deep/er/nested/file.bin", "with space/ü+%41 (1).txt"])
def test_put_read_small(artifact_repo: ArtifactRepository, tmp_path: Path, path: str) -> None:
    put_bytes(artifact_repo, tmp_path, path, b"hello artifact\n")
    assert read_all(artifact_repo, path) == b"hello artifact\n"
    assert artifact_repo.stat(path) == FileInfo(path, False, 15)


def test_put_read_empty(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    put_bytes(artifact_repo, tmp_path, "empty", b"")
    assert read_all(artifact_repo, "empty") == b""
    assert artifact_repo.stat("empty") == FileInfo("empty", False, 0)
    assert read_all(artifact_repo, "empty", 0, 10) == b""
    assert names(artifact_repo.list("")) == [("empty", False, 0)]


def test_put_read_multipart(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    data = pattern(20 * MIB + 12345)
    artifact_repo.put(write(tmp_path / "src", data), "model/weights.bin", "application/x-weights")
    digest = hashlib.sha256()
    chunks = 0
    for chunk in artifact_repo.read("model/weights.bin"):
        assert 0 < len(chunk) <= MIB
        digest.update(chunk)
        chunks += 1
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert chunks >= 21
    assert artifact_repo.stat("model/weights.bin") == FileInfo(
        "model/weights.bin", False, len(data)
    )
    # A range that crosses the part boundary at 8 MiB.
    assert (
        read_all(artifact_repo, "model/weights.bin", 8 * MIB - 10, 20)
        == data[8 * MIB - 10 : 8 * MIB + 10]
    )


def test_read_ranges(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    data = pattern(3 * MIB + 7)
    put_bytes(artifact_repo, tmp_path, "r.bin", data)
    size = len(data)
    cases = [
        (0, None),
        (0, 0),
        (1, 1),
        (100, 1000),
        (MIB - 1, 2),
        (MIB, MIB),
        (5, size),
        (size - 3, None),
        (size - 3, 100),
        (size, None),
        (size, 5),
        (size + 1, None),
        (size + 10 * MIB, 1),
    ]
    for offset, length in cases:
        stop = size if length is None else offset + length
        assert read_all(artifact_repo, "r.bin", offset, length) == data[offset:stop], (
            offset,
            length,
        )
    with pytest.raises(ValueError):
        read_all(artifact_repo, "r.bin", -1)
    with pytest.raises(ValueError):
        read_all(artifact_repo, "r.bin", 0, -1)


def test_replace_existing(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    put_bytes(artifact_repo, tmp_path, "f.txt", b"first version, longer")
    put_bytes(artifact_repo, tmp_path, "f.txt", b"second")
    assert read_all(artifact_repo, "f.txt") == b"second"
    assert artifact_repo.stat("f.txt") == FileInfo("f.txt", False, 6)
    big = pattern(9 * MIB, seed=2)
    put_bytes(artifact_repo, tmp_path, "f.txt", big)
    assert read_all(artifact_repo, "f.txt") == big
    put_bytes(artifact_repo, tmp_path, "f.txt", b"")
    assert read_all(artifact_repo, "f.txt") == b""
    assert names(artifact_repo.list("")) == [("f.txt", False, 0)]


def test_read_while_replaced_is_never_mixed(
    artifact_repo: ArtifactRepository, tmp_path: Path
) -> None:
    old, new = pattern(3 * MIB, seed=3), pattern(3 * MIB, seed=4)
    put_bytes(artifact_repo, tmp_path, "v.bin", old)
    chunks = artifact_repo.read("v.bin")
    got = bytearray(next(iter(chunks)))
    put_bytes(artifact_repo, tmp_path / "2", "v.bin", new)
    try:
        for chunk in chunks:
            got += chunk
    except Exception:  # a backend may refuse to go on once the file changed
        return
    assert bytes(got) == old


# stat and list


def _tree(repo: ArtifactRepository, tmp: Path) -> None:
    for path, size in {
        "a.txt": 1,
        "b/c.txt": 2,
        "b/d/e.txt": 3,
        "b/d/f/g.txt": 4,
        "ab/h.txt": 5,
        "b0.txt": 6,
    }.items():
        put_bytes(repo, tmp / path, path, b"x" * size)


def test_stat(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    assert artifact_repo.stat("") == FileInfo("", True)
    _tree(artifact_repo, tmp_path)
    assert artifact_repo.stat("a.txt") == FileInfo("a.txt", False, 1)
    assert artifact_repo.stat("b") == FileInfo("b", True)
    assert artifact_repo.stat("b/d") == FileInfo("b/d", True)
    assert artifact_repo.stat("b/d/f/g.txt") == FileInfo("b/d/f/g.txt", False, 4)
    assert artifact_repo.stat("") == FileInfo("", True)
    for missing in ["missing", "b/missing", "b/d/f/g", "a", "b/d/e.txt/x", "missing/deeper"]:
        assert artifact_repo.stat(missing) is None, missing


def test_list(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    assert artifact_repo.list("") == []
    _tree(artifact_repo, tmp_path)
    assert names(artifact_repo.list("")) == [
        ("a.txt", False, 1),
        ("ab", True, 0),
        ("b", True, 0),
        ("b0.txt", False, 6),
    ]
    assert names(artifact_repo.list("b")) == [("b/c.txt", False, 2), ("b/d", True, 0)]
    assert names(artifact_repo.list("b/d")) == [("b/d/e.txt", False, 3), ("b/d/f", True, 0)]
    assert names(artifact_repo.list("b/d/f")) == [("b/d/f/g.txt", False, 4)]
    assert artifact_repo.list("missing") == []
    assert artifact_repo.list("b/missing/deeper") == []
    assert artifact_repo.list("a.txt") == []


def test_list_many_children(repo_backend: Backend, tmp_path: Path) -> None:
    """More children than one listing page holds on S3 (1000 keys, moto too).

    Azure pages at 5000, so this does not reach its second page; gcp-storage-emulator does
    not paginate at all and slows down with every object, so GCS lists fewer children.
    """
    count = 120 if repo_backend.name == "gcs" else 1005
    artifact_repo = repo_backend.repo
    expected = []
    for i in range(count):
        path = f"many/f{i:05d}"
        artifact_repo.put(write(tmp_path, b"z"), path)
        expected.append((path, False, 1))
    assert names(artifact_repo.list("many")) == expected
    assert artifact_repo.delete("many") == count
    assert artifact_repo.list("") == []


# delete


def test_delete_file(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    _tree(artifact_repo, tmp_path)
    assert artifact_repo.delete("b/c.txt") == 1
    assert artifact_repo.stat("b/c.txt") is None
    assert names(artifact_repo.list("b")) == [("b/d", True, 0)]
    assert artifact_repo.delete("b/c.txt") == 0
    assert artifact_repo.delete("missing/x") == 0
    with pytest.raises(FileNotFoundError):
        read_all(artifact_repo, "b/c.txt")
    # A folder exists only while it holds something, as in the object stores.
    assert artifact_repo.delete("b/d/f/g.txt") == 1
    assert artifact_repo.stat("b/d/f") is None
    assert names(artifact_repo.list("b/d")) == [("b/d/e.txt", False, 3)]
    assert artifact_repo.delete("b/d/e.txt") == 1
    assert artifact_repo.stat("b") is None
    assert "b" not in [i.path for i in artifact_repo.list("")]


def test_delete_folder(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    _tree(artifact_repo, tmp_path)
    assert artifact_repo.delete("b/d") == 2
    assert artifact_repo.stat("b/d") is None
    assert names(artifact_repo.list("b")) == [("b/c.txt", False, 2)]
    assert artifact_repo.delete("b") == 1
    # "a" and "b" are prefixes of siblings' names; those siblings must stay.
    assert artifact_repo.delete("a") == 0
    assert names(artifact_repo.list("")) == [
        ("a.txt", False, 1),
        ("ab", True, 0),
        ("b0.txt", False, 6),
    ]
    assert artifact_repo.delete("ab") == 1
    assert artifact_repo.delete("a.txt") == 1
    assert artifact_repo.delete("b0.txt") == 1
    assert artifact_repo.list("") == []


def test_root_is_required_for_put_and_delete(
    artifact_repo: ArtifactRepository, tmp_path: Path
) -> None:
    with pytest.raises(ValueError):
        artifact_repo.put(write(tmp_path, b"x"), "")
    with pytest.raises(ValueError):
        artifact_repo.delete("")


def test_read_missing(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    put_bytes(artifact_repo, tmp_path, "dir/file.txt", b"x")
    for missing in ["nothing.txt", "dir", "dir/nothing", "dir/file.txt/x", ""]:
        with pytest.raises(FileNotFoundError):
            read_all(artifact_repo, missing)


# Failed puts


class _FailingReader(io.RawIOBase):
    """A file that raises EIO once a read reaches byte `fail_at`."""

    def __init__(self, path: Path, fail_at: int) -> None:
        self._file = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._fail_at = fail_at

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        if self._file.tell() + want > self._fail_at:
            raise OSError(5, "Input/output error (injected)")
        data = self._file.read(want)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


def failing_source(path: Path, fail_at: int) -> Path:
    """A Path whose open() gives a reader that fails at byte `fail_at`."""

    class FailingPath(type(Path())):  # type: ignore[misc]
        def open(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            assert "b" in mode and "r" in mode
            return io.BufferedReader(_FailingReader(Path(str(self)), fail_at), MIB)

    return FailingPath(str(path))


def assert_nothing_at(backend: Backend, path: str) -> None:
    # An abandoned writer's finalizer must not finish the upload (GCS's BlobWriter would).
    gc.collect()
    repo = backend.repo
    assert repo.stat(path) is None
    assert repo.list("") == []
    with pytest.raises(FileNotFoundError):
        read_all(repo, path)
    if backend.name == "s3":
        uploads = backend.raw.list_multipart_uploads(Bucket=backend.bucket)
        assert uploads.get("Uploads", []) == []
        assert backend.raw.list_objects_v2(Bucket=backend.bucket).get("KeyCount", 0) == 0
    elif backend.name == "azure":
        assert list(backend.raw.list_blobs()) == []
    elif backend.name == "gcs":
        assert list(backend.raw.list_blobs(backend.bucket)) == []
    elif backend.name == "local":
        staging = backend.raw / ".trackway-staging"
        assert [p.name for p in staging.iterdir()] == []


def test_failed_put_leaves_nothing(repo_backend: Backend, tmp_path: Path) -> None:
    data = pattern(20 * MIB)
    source = failing_source(write(tmp_path, data), fail_at=12 * MIB)
    with pytest.raises(OSError, match="injected"):
        repo_backend.repo.put(source, "out/model.bin")
    assert_nothing_at(repo_backend, "out/model.bin")


def test_failed_replace_keeps_old_content(repo_backend: Backend, tmp_path: Path) -> None:
    repo = repo_backend.repo
    put_bytes(repo, tmp_path, "keep.bin", b"old content")
    source = failing_source(write(tmp_path / "new", pattern(20 * MIB)), fail_at=10 * MIB)
    with pytest.raises(OSError, match="injected"):
        repo.put(source, "keep.bin")
    assert read_all(repo, "keep.bin") == b"old content"
    assert names(repo.list("")) == [("keep.bin", False, 11)]


def _fail_after_first(original: Callable[..., Any]) -> Callable[..., Any]:
    calls = {"n": 0}
    lock = threading.Lock()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with lock:
            calls["n"] += 1
            n = calls["n"]
        if n > 1:
            raise ConnectionError("injected: the connection dropped")
        return original(*args, **kwargs)

    return wrapper


def test_failed_part_upload_leaves_nothing(
    repo_backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transport fails after the first part: the upload is aborted or cancelled."""
    cancelled: list[str] = []
    if repo_backend.name == "s3":
        client = repo_backend.raw
        monkeypatch.setattr(client, "upload_part", _fail_after_first(client.upload_part))
    elif repo_backend.name == "azure":
        from azure.storage.blob import BlobClient

        monkeypatch.setattr(BlobClient, "stage_block", _fail_after_first(BlobClient.stage_block))
    elif repo_backend.name == "gcs":
        import requests
        from google.cloud.storage._media.requests.upload import ResumableUpload

        send = ResumableUpload.transmit_next_chunk
        monkeypatch.setattr(ResumableUpload, "transmit_next_chunk", _fail_after_first(send))
        delete = requests.Session.delete

        def spy(session: requests.Session, url: str, **kwargs: Any) -> Any:
            cancelled.append(url)
            return delete(session, url, **kwargs)

        monkeypatch.setattr(requests.Session, "delete", spy)
    else:
        import trackway.artifacts.repos.local as local_module

        def refuse(*args: Any) -> None:
            raise ConnectionError("injected: the rename failed")

        monkeypatch.setattr(local_module.os, "replace", refuse)
    with pytest.raises(ConnectionError, match="injected"):
        put_bytes(repo_backend.repo, tmp_path, "out/model.bin", pattern(20 * MIB))
    monkeypatch.undo()
    assert_nothing_at(repo_backend, "out/model.bin")
    if repo_backend.name == "gcs":
        # The DELETE went to the session URI. (gcp-storage-emulator answers it with 501:
        # it cannot cancel sessions, but it never shows an unfinished one either.)
        assert any("upload_id=" in url for url in cancelled), cancelled


# Memory


@pytest.mark.slow
def test_memory_stays_bounded(artifact_repo: ArtifactRepository, tmp_path: Path) -> None:
    """A 200 MiB put and read allocate far less than the file (tracemalloc peak)."""
    size = 200 * MIB
    block = pattern(MIB, seed=5)
    source = tmp_path / "big.bin"
    with source.open("wb") as out:
        for _ in range(size // MIB):
            out.write(block)
    expected = hashlib.sha256()
    for _ in range(size // MIB):
        expected.update(block)
    tracemalloc.start()
    try:
        artifact_repo.put(source, "big/model.bin")
        digest = hashlib.sha256()
        for chunk in artifact_repo.read("big/model.bin"):
            digest.update(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.hexdigest() == expected.hexdigest()
    assert artifact_repo.stat("big/model.bin") == FileInfo("big/model.bin", False, size)
    print(f"tracemalloc peak for a 200 MiB put and read: {peak / MIB:.1f} MiB")
    assert peak < 64 * MIB, f"peak {peak / MIB:.1f} MiB"
    artifact_repo.delete("big")


# The local disk: symlinks and the staging folder


@pytest.fixture
def local(tmp_path: Path) -> tuple[ArtifactRepository, Path, Path]:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"canary")
    (outside / "sub").mkdir()
    (outside / "sub" / "inner.txt").write_bytes(b"inner")
    repo = open_repository(str(root))
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "real.txt").write_bytes(b"inside")
    os.symlink(outside / "secret.txt", root / "file-link")
    os.symlink(outside, root / "dir-link")
    os.symlink("../../outside/sub", root / "ok" / "rel-link")
    os.symlink(root / "ok" / "real.txt", root / "inside-link")
    return repo, root, outside


ESCAPES = ["file-link", "dir-link", "dir-link/secret.txt", "dir-link/sub", "ok/rel-link/inner.txt"]


@pytest.mark.parametrize("path", ESCAPES)
def test_local_symlink_escape_refused(
    local: tuple[ArtifactRepository, Path, Path], tmp_path: Path, path: str
) -> None:
    repo, _, outside = local
    with pytest.raises(PermissionError):
        repo.stat(path)
    with pytest.raises(PermissionError):
        read_all(repo, path)
    with pytest.raises(PermissionError):
        repo.list(path)
    with pytest.raises(PermissionError):
        repo.delete(path)
    with pytest.raises(PermissionError):
        repo.put(write(tmp_path / "src", b"evil"), f"{path}/planted.txt")
    assert (outside / "secret.txt").read_bytes() == b"canary"
    assert (outside / "sub" / "inner.txt").read_bytes() == b"inner"
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt", "sub"]


def test_local_links_inside_root_work(local: tuple[ArtifactRepository, Path, Path]) -> None:
    repo, root, _ = local
    assert read_all(repo, "inside-link") == b"inside"
    assert repo.stat("inside-link") == FileInfo("inside-link", False, 6)
    # Escaping links are left out of listings; the staging folder is never listed.
    repo.staging_dir()
    assert names(repo.list("")) == [("inside-link", False, 6), ("ok", True, 0)]
    assert names(repo.list("ok")) == [("ok/real.txt", False, 6)]
    # Deleting a link removes the link, not its target.
    assert repo.delete("inside-link") == 1
    assert (root / "ok" / "real.txt").read_bytes() == b"inside"


def test_local_staging_folder(local: tuple[ArtifactRepository, Path, Path], tmp_path: Path) -> None:
    repo, root, _ = local
    staging = repo.staging_dir()
    assert staging == root / ".trackway-staging"
    assert staging.stat().st_mode & 0o777 == 0o700
    spool = write(staging, b"spooled", name="abc.part")
    repo.put(spool, "moved.txt")
    assert not spool.exists()  # renamed into place, not copied
    assert read_all(repo, "moved.txt") == b"spooled"
    source = write(tmp_path / "elsewhere", b"copied")
    repo.put(source, "copied.txt")
    assert source.read_bytes() == b"copied"
    assert [p.name for p in staging.iterdir()] == []
    for path in [".trackway-staging", ".trackway-staging/abc.part"]:
        with pytest.raises(PermissionError):
            repo.stat(path)
        with pytest.raises(PermissionError):
            repo.put(write(tmp_path / "x", b"x"), path)


# open_repository


def test_open_repository_dispatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trackway.artifacts.repos.local import LocalRepository

    assert isinstance(open_repository(str(tmp_path / "a")), LocalRepository)
    repo = open_repository((tmp_path / "with space").as_uri())
    assert isinstance(repo, LocalRepository)
    assert repo.uri == (tmp_path / "with space").as_uri()
    for bad in [
        "ftp://host/x",
        "http:///#/../../etc/",
        "relative/path",
        "",
        "file://remote-host/x",
        "file:///tmp/x?y",
        "s3://bucket/a/../b",
        "s3:///prefix",
        "gs://bucket/x#frag",
        "wasbs://container/x",
        str(tmp_path / "a" / ".." / "b"),
    ]:
        with pytest.raises(ValueError):
            open_repository(bad)


def test_open_repository_s3_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    required.module("boto3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("TRACKWAY_S3_CHECKSUMS", "when_required")
    repo: Any = open_repository("s3://bucket/some/prefix/")
    assert repo.uri == "s3://bucket/some/prefix"
    assert repo._client.meta.endpoint_url == "http://127.0.0.1:1"
    config = repo._client.meta.config
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    monkeypatch.setenv("TRACKWAY_S3_ENDPOINT_URL", "http://127.0.0.1:2")
    repo = open_repository("s3://bucket", s3_checksums="when_supported")
    assert repo._client.meta.endpoint_url == "http://127.0.0.1:2"
    assert repo._client.meta.config.request_checksum_calculation != "when_required"
    with pytest.raises(ValueError):
        open_repository("s3://bucket", s3_checksums="sometimes")


def test_open_repository_azure_needs_matching_account(monkeypatch: pytest.MonkeyPatch) -> None:
    required.module("azure.storage.blob")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    with pytest.raises(ValueError, match="AZURE_STORAGE_CONNECTION_STRING"):
        open_repository("az://container/prefix")
    monkeypatch.setenv(
        "AZURE_STORAGE_CONNECTION_STRING",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;",
    )
    repo: Any = open_repository("az://container/prefix")
    assert repo.uri == "az://container/prefix"
    with pytest.raises(ValueError, match="account"):
        open_repository("wasbs://container@other.blob.core.windows.net/p")
