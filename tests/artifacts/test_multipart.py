"""Multipart uploads in the artifact layer, on the local disk and on S3 (moto): parts in
any order and in parallel, one atomic publication, strict completion, abort and sweep."""

from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.artifacts.conftest import Backend
from trackway.artifacts import multipart
from trackway.artifacts.multipart import MultipartUploads, Part
from trackway.artifacts.service import ArtifactService, Scope
from trackway.errors import FailedPrecondition, InvalidArgument, NotFound
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.service import TrackingService

MiB = 1024 * 1024


@dataclass
class Setup:
    artifacts: ArtifactService
    tracking: TrackingService
    scope: Scope
    staging: Path

    def uploads(self) -> list[str]:
        folder = self.staging / "multipart"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def read(self, path: str) -> bytes:
        return b"".join(self.artifacts.download(self.scope, path)[1])


# The contract tests' repository fixture, on the local disk and on S3 (moto).
on_local_and_s3 = pytest.mark.parametrize("repo_backend", ["local", "s3"], indirect=True)


@pytest.fixture
def setup(repo_backend: Backend, tmp_path: Path) -> Iterator[Setup]:
    """A run on a tracking store whose artifact root is the backend's repository."""
    store = SqlTrackingStore.open(
        f"sqlite:///{tmp_path / 'trackway.db'}", artifact_root=repo_backend.repo.uri
    )
    tracking = TrackingService(store)
    exp = tracking.create_experiment("mpu")
    run = tracking.create_run(exp.experiment_id)
    artifacts = ArtifactService(store, repo_backend.repo)
    yield Setup(artifacts, tracking, Scope(run_id=run.info.run_id), repo_backend.repo.staging_dir())
    store.close()


def _chunks(data: bytes, size: int = MiB) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@on_local_and_s3
def test_parts_in_any_order_and_in_parallel_make_one_file(setup: Setup) -> None:
    parts = [os.urandom(2 * MiB + 7), os.urandom(2 * MiB), os.urandom(123)]
    upload_id = setup.artifacts.create_multipart(setup.scope, "model/weights.bin", 3)

    def put(number: int) -> str:
        data = parts[number - 1]
        return setup.artifacts.upload_part(upload_id, number, _chunks(data), size=len(data))

    with ThreadPoolExecutor(3) as pool:
        etags = dict(zip([3, 1, 2], pool.map(put, [3, 1, 2]), strict=True))
    assert etags == {n: hashlib.sha256(parts[n - 1]).hexdigest() for n in (1, 2, 3)}
    listed = [Part(n, f'"{etags[n]}"') for n in (2, 3, 1)]  # any order; HTTP's quotes

    stored = setup.artifacts.complete_multipart(setup.scope, "model/weights.bin", upload_id, listed)

    whole = b"".join(parts)
    assert stored.file is not None and stored.file.size == len(whole)
    assert stored.sha256 == hashlib.sha256(whole).hexdigest()
    assert setup.read("model/weights.bin") == whole
    assert setup.uploads() == []


@on_local_and_s3
def test_an_unfinished_upload_is_invisible(setup: Setup) -> None:
    upload_id = setup.artifacts.create_multipart(setup.scope, "half.bin", 2)
    setup.artifacts.upload_part(upload_id, 1, [b"first half"])
    files, _, _ = setup.artifacts.list(setup.scope, "")
    assert files == []
    with pytest.raises(NotFound):
        setup.artifacts.stat(setup.scope, "half.bin")
    assert setup.uploads() == [upload_id]


@on_local_and_s3
def test_putting_a_part_again_replaces_it(setup: Setup) -> None:
    upload_id = setup.artifacts.create_multipart(setup.scope, "f.txt", 2)
    stale = setup.artifacts.upload_part(upload_id, 1, [b"old"])
    fresh = setup.artifacts.upload_part(upload_id, 1, [b"new-", b"bytes"])
    last = setup.artifacts.upload_part(upload_id, 2, [b"!"])
    with pytest.raises(InvalidArgument, match="not the ETag of part 1's current bytes"):
        setup.artifacts.complete_multipart(
            setup.scope, "f.txt", upload_id, [Part(1, stale), Part(2, last)]
        )
    setup.artifacts.complete_multipart(
        setup.scope, "f.txt", upload_id, [Part(1, fresh), Part(2, last)]
    )
    assert setup.read("f.txt") == b"new-bytes!"


@on_local_and_s3
def test_completion_lists_every_part_with_its_etag(setup: Setup) -> None:
    upload_id = setup.artifacts.create_multipart(setup.scope, "strict.bin", 3)
    e1 = setup.artifacts.upload_part(upload_id, 1, [b"a"])
    e2 = setup.artifacts.upload_part(upload_id, 2, [b"b"])

    def complete(parts: list[Part]) -> str:
        with pytest.raises(InvalidArgument) as err:
            setup.artifacts.complete_multipart(setup.scope, "strict.bin", upload_id, parts)
        return err.value.message

    assert "part 3 was never uploaded" in complete([Part(1, e1), Part(2, e2), Part(3, e2)])
    assert "part(s) 3 are not listed" in complete([Part(1, e1), Part(2, e2)])
    assert "listed twice" in complete([Part(1, e1), Part(1, e1), Part(2, e2)])
    assert "parts 1 to 3" in complete([Part(1, e1), Part(2, e2), Part(4, e2)])
    assert "not the ETag" in complete([Part(1, e2), Part(2, e2), Part(3, e2)])
    assert "not the ETag" in complete([Part(1, "nonsense*"), Part(2, e2), Part(3, e2)])
    # Failed completions leave the upload as it was: it can still finish.
    e3 = setup.artifacts.upload_part(upload_id, 3, [b"c"])
    parts = [Part(1, e1), Part(2, e2), Part(3, e3)]
    setup.artifacts.complete_multipart(setup.scope, "strict.bin", upload_id, parts)
    assert setup.read("strict.bin") == b"abc"
    with pytest.raises(NotFound):  # a completed upload is gone
        setup.artifacts.complete_multipart(setup.scope, "strict.bin", upload_id, parts)


@on_local_and_s3
def test_abort_removes_everything_and_may_repeat(setup: Setup) -> None:
    upload_id = setup.artifacts.create_multipart(setup.scope, "gone.bin", 2)
    setup.artifacts.upload_part(upload_id, 1, [os.urandom(MiB)])
    setup.artifacts.abort_multipart(setup.scope, "gone.bin", upload_id)
    assert setup.uploads() == []
    setup.artifacts.abort_multipart(setup.scope, "gone.bin", upload_id)
    with pytest.raises(NotFound):
        setup.artifacts.upload_part(upload_id, 2, [b"late"])
    with pytest.raises(NotFound):
        setup.artifacts.complete_multipart(setup.scope, "gone.bin", upload_id, [])
    assert setup.artifacts.list(setup.scope, "")[0] == []
    assert list(setup.staging.glob("**/*.part")) == []


@on_local_and_s3
def test_unknown_ids_and_other_paths_are_not_found(setup: Setup) -> None:
    for bad in ("", "0" * 32, "../" + "a" * 29, "A" * 32):
        with pytest.raises(NotFound):
            setup.artifacts.upload_part(bad, 1, [b"x"])
        with pytest.raises(NotFound):
            setup.artifacts.complete_multipart(setup.scope, "x", bad, [])
    upload_id = setup.artifacts.create_multipart(setup.scope, "mine.bin", 1)
    etag = setup.artifacts.upload_part(upload_id, 1, [b"x"])
    with pytest.raises(NotFound, match="not an upload of"):
        setup.artifacts.complete_multipart(setup.scope, "other.bin", upload_id, [Part(1, etag)])
    with pytest.raises(NotFound, match="not an upload of"):
        setup.artifacts.abort_multipart(setup.scope, "other.bin", upload_id)
    assert setup.uploads() == [upload_id]


@on_local_and_s3
def test_create_and_parts_are_validated(setup: Setup) -> None:
    for path in ("../escape.bin", "a/../../b", "/abs", "a%2F..%2F..%2Fb", "x\\y", ""):
        with pytest.raises(InvalidArgument):
            setup.artifacts.create_multipart(setup.scope, path, 1)
    for count in (-1, multipart.MAX_PARTS + 1):
        with pytest.raises(InvalidArgument, match="num_parts"):
            setup.artifacts.create_multipart(setup.scope, "f.bin", count)
    upload_id = setup.artifacts.create_multipart(setup.scope, "f.bin", 2)
    for number in (0, 3):
        with pytest.raises(InvalidArgument, match="part_number"):
            setup.artifacts.upload_part(upload_id, number, [b"x"])
    with pytest.raises(InvalidArgument, match="announced 10 bytes but sent 5"):
        setup.artifacts.upload_part(upload_id, 1, [b"12345"], size=10)
    with pytest.raises(InvalidArgument, match="more than the 3 bytes"):
        setup.artifacts.upload_part(upload_id, 1, [b"12345"], size=3)
    assert sorted(p.name for p in (setup.staging / "multipart" / upload_id).iterdir()) == [
        "upload.json"
    ]
    assert setup.uploads() == [upload_id]


@on_local_and_s3
def test_a_deleted_run_takes_no_new_upload_and_no_completion(setup: Setup) -> None:
    upload_id = setup.artifacts.create_multipart(setup.scope, "f.bin", 1)
    etag = setup.artifacts.upload_part(upload_id, 1, [b"x"])
    setup.tracking.delete_run(setup.scope.run_id)
    with pytest.raises(FailedPrecondition):
        setup.artifacts.create_multipart(setup.scope, "g.bin", 1)
    with pytest.raises(FailedPrecondition):
        setup.artifacts.complete_multipart(setup.scope, "f.bin", upload_id, [Part(1, etag)])
    setup.artifacts.abort_multipart(setup.scope, "f.bin", upload_id)  # cleaning up is fine
    assert setup.uploads() == []


@on_local_and_s3
def test_zero_parts_make_an_empty_file(setup: Setup) -> None:
    upload_id = setup.artifacts.create_multipart(setup.scope, "empty.txt", 0)
    setup.artifacts.complete_multipart(setup.scope, "empty.txt", upload_id, [])
    assert setup.artifacts.stat(setup.scope, "empty.txt").size == 0


def test_memory_stays_flat_for_large_parts(tmp_path: Path) -> None:
    uploads = MultipartUploads(tmp_path)
    upload = uploads.create("1/run/artifacts", "big.bin", 3)
    block = os.urandom(MiB)
    part_size = 24 * MiB
    published: list[tuple[int, str]] = []

    def publish(source: Path) -> None:
        published.append((source.stat().st_size, source.name))

    tracemalloc.start()
    try:
        etags = [
            uploads.put_part(upload.upload_id, n, (block for _ in range(24)), part_size)
            for n in (1, 2, 3)
        ]
        uploads.complete(
            upload.upload_id,
            "1/run/artifacts",
            "big.bin",
            [Part(n, e) for n, e in enumerate(etags, 1)],
            publish,
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert published[0][0] == 3 * part_size
    # At most the spool's hand-over queue of 1 MiB chunks is ever held, never a part.
    assert peak < 20 * MiB, f"peak {peak / MiB:.1f} MiB"


def _age(folder: Path, seconds: float) -> None:
    past = time.time() - seconds
    for path in [folder, *folder.iterdir()]:
        os.utime(path, (past, past))


def test_sweep_removes_abandoned_uploads_only(tmp_path: Path) -> None:
    uploads = MultipartUploads(tmp_path)
    old = uploads.create("p", "old.bin", 2)
    uploads.put_part(old.upload_id, 1, [b"bytes"])
    fresh = uploads.create("p", "fresh.bin", 1)
    written_lately = uploads.create("p", "busy.bin", 2)
    _age(tmp_path / "multipart" / old.upload_id, multipart.UPLOAD_TTL_SECONDS + 60)
    _age(tmp_path / "multipart" / written_lately.upload_id, multipart.UPLOAD_TTL_SECONDS + 60)
    uploads.put_part(written_lately.upload_id, 2, [b"recent"])

    assert uploads.sweep() == 1
    with pytest.raises(NotFound):
        uploads.get(old.upload_id)
    assert uploads.get(fresh.upload_id).path == "fresh.bin"
    assert uploads.get(written_lately.upload_id).num_parts == 2
