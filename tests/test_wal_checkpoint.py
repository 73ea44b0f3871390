"""SQLite WAL checkpoints run beside the writer, never inside its commits, and the WAL
file stays bounded under steady writes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from trackway.store import wal_checkpoint
from trackway.store.tracking_store import SqlTrackingStore
from trackway.tracking.entities import MetricColumns
from trackway.tracking.service import TrackingService

POINTS = 1000
SQLITE = pytest.mark.parametrize("backend", ["sqlite"])


def _log_batches(service: TrackingService, run_id: str, batches: int) -> None:
    for b in range(batches):
        steps = list(range(b * POINTS, (b + 1) * POINTS))
        columns = [MetricColumns("loss", steps, [1_700_000_000_000] * POINTS, [0.5] * POINTS)]
        service.log_batch_columns(run_id, columns)


def _wait_for(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@SQLITE
def test_writer_commits_never_checkpoint(store: SqlTrackingStore) -> None:
    setting = store.writer.run(lambda conn: conn.exec_driver_sql("PRAGMA wal_autocheckpoint"))
    assert setting.scalar() == 0


@SQLITE
def test_background_thread_copies_commits_into_the_database_file(
    store: SqlTrackingStore, tmp_path: Path
) -> None:
    """The writer's commits do not checkpoint, so the database file can only grow while
    the store is open if the checkpointer thread copies the WAL into it."""
    service = TrackingService(store)
    run_id = service.create_run(service.create_experiment("wal").experiment_id).info.run_id
    db_file = tmp_path / "trackway.db"
    before = db_file.stat().st_size
    _log_batches(service, run_id, 60)  # about 1,500 WAL pages
    assert _wait_for(lambda: db_file.stat().st_size > before + (2 << 20)), (
        f"the database file stayed at {db_file.stat().st_size} bytes (from {before})"
    )
    points, _ = service.metric_history(run_id, "loss", page_size=100_000)
    assert len(points.steps) == 60 * POINTS


@SQLITE
def test_wal_file_stays_bounded_under_steady_writes(
    store: SqlTrackingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """About 40 MB go through the WAL; without rewinds the file would hold them all."""
    monkeypatch.setattr(wal_checkpoint, "REWIND_PAGES", 256)
    service = TrackingService(store)
    run_id = service.create_run(service.create_experiment("bound").experiment_id).info.run_id
    wal = tmp_path / "trackway.db-wal"
    largest = 0
    for _ in range(40):
        _log_batches(service, run_id, 10)
        largest = max(largest, os.path.getsize(wal))
    assert largest < 16 << 20, f"the WAL grew to {largest} bytes"
