"""Whole-file uploads hash their bytes only when someone needs the digest: the caller
asks for it (gRPC returns it) or announces the one to expect (which is then checked)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from trackway.artifacts.repos.local import LocalRepository
from trackway.artifacts.service import ArtifactService, Scope
from trackway.errors import DataLoss, InvalidArgument
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.service import TrackingService

MiB = 1024 * 1024
# Past the spool's PIPELINE_AFTER, so its helper thread takes part too.
DATA = os.urandom(6 * MiB + 5)


@pytest.fixture
def uploads(tmp_path: Path) -> Iterator[tuple[ArtifactService, Scope]]:
    root = (tmp_path / "artifacts").as_uri()
    store = SqlTrackingStore.open(f"sqlite:///{tmp_path / 'trackway.db'}", artifact_root=root)
    tracking = TrackingService(store)
    run = tracking.create_run(tracking.create_experiment("digest").experiment_id)
    repo = LocalRepository(tmp_path / "artifacts")
    yield ArtifactService(store, repo), Scope(run_id=run.info.run_id)
    store.close()


def _chunks() -> Iterator[bytes]:
    for start in range(0, len(DATA), MiB):
        yield DATA[start : start + MiB]


def _read(artifacts: ArtifactService, scope: Scope, path: str) -> bytes:
    return b"".join(artifacts.download(scope, path)[1])


def test_digest_by_default(uploads: tuple[ArtifactService, Scope]) -> None:
    artifacts, scope = uploads
    stored = artifacts.upload(scope, "a.bin", _chunks(), size=len(DATA))
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()


def test_no_digest_when_not_asked(uploads: tuple[ArtifactService, Scope]) -> None:
    artifacts, scope = uploads
    stored = artifacts.upload(scope, "b.bin", _chunks(), size=len(DATA), digest=False)
    assert stored.sha256 == ""
    assert stored.committed_bytes == len(DATA)
    assert _read(artifacts, scope, "b.bin") == DATA


def test_an_expected_digest_is_checked_even_when_none_is_asked(
    uploads: tuple[ArtifactService, Scope],
) -> None:
    artifacts, scope = uploads
    right = hashlib.sha256(DATA).hexdigest()
    stored = artifacts.upload(scope, "c.bin", _chunks(), expected_sha256=right, digest=False)
    assert stored.sha256 == right
    with pytest.raises(DataLoss):
        artifacts.upload(scope, "d.bin", _chunks(), expected_sha256="0" * 64, digest=False)
    assert [f.path for f in artifacts.list(scope, "")[0]] == ["c.bin"]


def test_the_announced_size_is_still_checked(uploads: tuple[ArtifactService, Scope]) -> None:
    artifacts, scope = uploads
    with pytest.raises(InvalidArgument):
        artifacts.upload(scope, "e.bin", _chunks(), size=len(DATA) + 1, digest=False)
    assert artifacts.list(scope, "")[0] == []
