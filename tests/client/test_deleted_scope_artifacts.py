"""Artifacts of a deleted experiment can still be deleted: `trackway gc` clears them
before PurgeExperiment removes the records."""

from __future__ import annotations

from pathlib import Path

from trackway.client import TrackwayClient


def test_delete_artifact_in_a_deleted_experiment(client: TrackwayClient, tmp_path: Path) -> None:
    eid = client.create_experiment("gap")
    rid = client.create_run(eid).info.run_id
    f = tmp_path / "f.txt"
    f.write_text("x")
    client.log_artifact(rid, f)
    client.delete_experiment(eid)
    assert client.delete_artifact(path=rid, experiment_id=eid) == 1
